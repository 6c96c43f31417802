import NIOCore

/// The tee's spool format: raw records appended one after another into a segment, as the event
/// loop has them, so that recording an exchange on the forwarding path costs a copy and nothing
/// more. Parsing, redaction of stored text and indexing happen when the segment is expanded.
///
/// A record, integers little-endian: `u32` length of the rest of the record, `i64` wall clock (ns),
/// `i64` connection, `i64` upstream latency (ns, -1 when none), then eight fields, each a `u32`
/// length (`0xFFFF_FFFF` when absent) and its bytes: request head, request body (de-chunked),
/// response head, response body, target override, client, server, error.
struct SpoolSegment {
    private(set) var bytes: [UInt8] = []
    private(set) var records = 0

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    var isEmpty: Bool { records == 0 }

    /// Appends `record`.
    mutating func append(_ record: TeeRecord) {
        let start = bytes.count
        put(length: 0)
        put(record.wallClockNs)
        put(record.connection)
        put(record.latencyNs.map { Int64(truncatingIfNeeded: $0) } ?? -1)
        put(record.requestHead)
        put(record.requestBody)
        put(record.responseHead)
        put(record.responseBody)
        put(record.target)
        put(record.client)
        put(record.server)
        put(record.error)
        let length = UInt32(truncatingIfNeeded: bytes.count - start - 4)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: length.littleEndian, toByteOffset: start, as: UInt32.self) }
        records += 1
    }

    private static let absent = UInt32.max

    private mutating func put(_ value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func put(length: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func put(_ buffer: ByteBuffer?) {
        guard let buffer else { return put(length: Int(Self.absent)) }
        put(length: buffer.readableBytes)
        buffer.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
    }

    private mutating func put(_ text: String?) {
        guard var text else { return put(length: Int(Self.absent)) }
        text.withUTF8 { utf8 in
            put(length: utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    /// The records of a segment's bytes, in order; throws `SpoolSegmentError` at the first one that
    /// does not decode (the bytes come from a file, which may have been damaged).
    static func records(in bytes: [UInt8]) throws(SpoolSegmentError) -> [TeeRecord] {
        var reader = Reader(bytes: bytes)
        var records: [TeeRecord] = []
        while !reader.atEnd {
            records.append(try reader.record())
        }
        return records
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var end: Int

        init(bytes: [UInt8]) {
            self.bytes = bytes
            end = bytes.count
        }

        var atEnd: Bool { offset >= bytes.count }

        mutating func record() throws(SpoolSegmentError) -> TeeRecord {
            let start = offset
            end = bytes.count
            let length = Int(try uint32())
            guard length <= bytes.count - offset else { throw .truncated(offset: start) }
            end = offset + length
            let wallClockNs = try int64(), connection = try int64(), latency = try int64()
            let requestHead = try buffer(), requestBody = try buffer()
            let responseHead = try buffer(), responseBody = try buffer()
            let target = try text(), client = try text(), server = try text(), error = try text()
            guard let requestHead, let requestBody, let client, let server, offset == end else {
                throw .malformed(offset: start)
            }
            return TeeRecord(
                requestHead: requestHead, requestBody: requestBody, target: target, responseHead: responseHead,
                responseBody: responseBody, wallClockNs: wallClockNs, connection: connection, client: client,
                server: server, latencyNs: latency < 0 ? nil : UInt64(latency), error: error)
        }

        private mutating func take(_ count: Int) throws(SpoolSegmentError) -> ArraySlice<UInt8> {
            guard count <= end - offset else { throw .truncated(offset: offset) }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        private mutating func uint32() throws(SpoolSegmentError) -> UInt32 {
            try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }

        private mutating func int64() throws(SpoolSegmentError) -> Int64 {
            Int64(bitPattern: try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) })
        }

        private mutating func field() throws(SpoolSegmentError) -> ArraySlice<UInt8>? {
            let length = try uint32()
            return length == SpoolSegment.absent ? nil : try take(Int(length))
        }

        private mutating func buffer() throws(SpoolSegmentError) -> ByteBuffer? {
            try field().map { ByteBuffer(bytes: $0) }
        }

        private mutating func text() throws(SpoolSegmentError) -> String? {
            try field().map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

/// A spooled segment whose bytes do not decode.
enum SpoolSegmentError: Error, Equatable, CustomStringConvertible {
    case truncated(offset: Int)
    case malformed(offset: Int)

    var description: String {
        switch self {
        case .truncated(let offset): "a record at byte \(offset) runs past the end of its segment"
        case .malformed(let offset): "the record at byte \(offset) does not decode"
        }
    }
}
