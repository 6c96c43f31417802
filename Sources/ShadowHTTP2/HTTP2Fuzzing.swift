import NIOCore
import NIOHPACK
import ShadowCore

/// The HTTP/2 decoders as fuzz targets (see fuzz/ and Tests/ShadowFuzzTargetsTests): each takes
/// any bytes, drives the decoders and traps when one breaks a contract it states.
public enum HTTP2Fuzzing {
    static let limits = HTTP2Limits(
        maxFrameSize: 1 << 16, maxHeaderBlockBytes: 8192, maxHeaderListSize: 4096, maxDynamicTableSize: 8192,
        maxOpenStreams: 8, maxBodyBytes: 2048, maxSyncScanBytes: 512)

    /// Both directions of a connection through the stream assembler, each record cut into random
    /// pieces. Input: a mode byte (bit 0: mid-connection), a seed byte for the cuts, then records
    /// of a control byte (bit 0: server, bit 1: a gap instead of bytes), a 2-byte length and the bytes.
    /// Checks: the bounds hold; and a connection read without framing trouble gives the same
    /// exchanges and counts however its records were cut.
    public static func frames(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let mode = input.byte()
        let seed = UInt64(input.byte())
        var records: [(direction: HTTP2Direction, gap: Bool, bytes: [UInt8])] = []
        while !input.isEmpty {
            let control = input.byte()
            let direction: HTTP2Direction = control & 1 == 0 ? .client : .server
            if control & 2 != 0 {
                records.append((direction, true, []))
            } else {
                records.append((direction, false, Array(input.slice(Int(input.number(bytes: 2))))))
            }
        }
        let start: HTTP2StreamAssembler.Start = mode & 1 == 0 ? .connectionStart : .midConnection
        let whole = assemble(records, start: start, cutSeed: nil)
        let cut = assemble(records, start: start, cutSeed: seed)
        let framingTrouble = ["http2_discarded_bytes", "http2_gap", "http2_bad_preface", "http2_frame_too_large", "http2_bad_frame_length",
                              "http2_bad_padding", "http2_bad_stream_id", "http2_no_frame_boundary"]
        if start == .connectionStart, !framingTrouble.contains(where: { whole.counters[$0] > 0 || cut.counters[$0] > 0 }) {
            precondition(whole.exchanges == cut.exchanges, "cutting the bytes differently changed the exchanges")
            precondition(whole.counters == cut.counters, "cutting the bytes differently changed the counts")
        }
    }

    private static func assemble(_ records: [(direction: HTTP2Direction, gap: Bool, bytes: [UInt8])], start: HTTP2StreamAssembler.Start,
                                 cutSeed: UInt64?) -> (exchanges: [HTTP2Exchange], counters: Counters) {
        var random = cutSeed.map { SplitMix64(seed: $0) }
        var assembler = HTTP2StreamAssembler(start: start, limits: limits)
        var exchanges: [HTTP2Exchange] = []
        for (index, record) in records.enumerated() {
            if record.gap {
                assembler.gap(in: record.direction)
                continue
            }
            var at = 0
            repeat {
                let piece = random == nil ? record.bytes.count : 1 + Int(random!.next() % 97)
                let end = min(record.bytes.count, at + piece)
                assembler.ingest(record.bytes[at..<end], from: record.direction, timestampNs: Int64(index))
                at = end
                precondition(assembler.openStreams <= limits.maxOpenStreams, "more streams open than the limit")
            } while at < record.bytes.count
            exchanges += assembler.takeExchanges()
        }
        exchanges += assembler.finish()
        for exchange in exchanges {
            for message in [exchange.request, exchange.response] {
                precondition(message.body.count <= limits.maxBodyBytes && message.body.count <= message.bodyBytes, "a body over its bound")
            }
            _ = GRPCCall(exchange: exchange, maxMessageBytes: 512)
        }
        precondition(assembler.counters.values.values.allSatisfy { $0 >= 0 }, "a negative count")
        return (exchanges, assembler.counters)
    }

    /// Header blocks through one HPACK context. Input: a mode byte (bit 0: mid-connection, bit 1:
    /// a SETTINGS_HEADER_TABLE_SIZE taken from the next 2 bytes), then blocks, each after a
    /// 2-byte length.
    /// Checks: decoded lists and the table stay within their limits; from the start, as long as
    /// NIOHPACK's own decoder and this one both decode every block, they decode the same fields.
    public static func hpack(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let mode = input.byte()
        var context = HPACKContext(fromStart: mode & 1 == 0, limits: limits)
        var reference: HPACKDecoder? = mode & 3 == 0
            ? HPACKDecoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 4096, maxHeaderListSize: limits.maxHeaderListSize) : nil
        if mode & 2 != 0 { context.announceTableSize(Int(input.number(bytes: 2))) }
        while !input.isEmpty {
            let block = ByteBuffer(bytes: input.slice(Int(input.number(bytes: 2))))
            let decoded = try? context.decode(block)
            if let decoded {
                let size = decoded.fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
                precondition(size <= limits.maxHeaderListSize, "a header list over the limit")
            }
            precondition(context.tableSize <= limits.maxDynamicTableSize, "a dynamic table over the limit")
            guard var checked = reference else { continue }
            var copy = block
            guard let expected = try? checked.decodeHeaders(from: &copy), let decoded,
                  !decoded.fields.contains(where: { $0.name.contains("\u{FFFD}") || $0.value.contains("\u{FFFD}") })
            else {
                reference = nil
                continue
            }
            reference = checked
            precondition(decoded.fields.map { [$0.name, $0.value] } == expected.map { [$0.name, $0.value] }, "decodes otherwise than NIOHPACK")
        }
    }
}
