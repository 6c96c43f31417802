import NIOCore

/// Splits one direction of an HTTP/1.x connection into messages without decoding them, so that the
/// proxy forwards the bytes it received unchanged.
///
/// Contract:
/// - `next(_:)` consumes bytes from the front of `input` and reports them in stream order: every
///   byte of a message belongs to exactly one `.head`, `.data` or `.framing` event, so writing the
///   events' bytes in order reproduces the message. Empty lines between messages are skipped.
/// - `.data` is body payload (de-chunked); `.framing` is chunk-size lines, chunk ends and trailers.
///   `.end` follows the last byte of each message; nil means more bytes are needed.
/// - Bounded: a head (and a trailer section) over `maxHeadBytes` throws `headTooLarge`, one with more
///   than `maxHeadFields` fields `tooManyFields`, both as soon as the limit is passed (an incomplete
///   head counts its lines so far); a chunk-size line over 4 KiB is malformed. Bytes are only
///   buffered while a head or line is incomplete.
/// - Requests are strict: every line ends in CRLF, and a request whose first bytes cannot start a
///   request line (TLS, binary) is malformed at once, without waiting for the end of its head.
/// - A response's framing depends on its request: set `answering` before its head arrives.
public struct HTTP1Framer {
    public enum Event {
        case head(HTTP1Head, ByteBuffer)
        case data(ByteBuffer)
        case framing(ByteBuffer)
        case end

        /// Whether the event's bytes are body payload (and not chunk framing).
        public var isPayload: Bool {
            if case .data = self { return true }
            return false
        }
    }

    /// How the stream ended, from `finish()`.
    public enum Ending: Equatable {
        /// Between messages.
        case clean
        /// A body delimited by the close is complete: its `.end`.
        case endOfBody
        /// In the middle of a message.
        case truncated
    }

    private enum State: Equatable {
        case head
        case body(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int, fields: Int)
        case untilClose
    }

    public let isRequest: Bool
    public let maxHeadBytes: Int
    public let maxHeadFields: Int
    public static let maxChunkLineBytes = 4 << 10
    /// (Responses) what the response being framed answers.
    public var answering = HTTP1RequestKind.other

    private var state = State.head
    private var endPending = false
    /// An incomplete head or line, across reads.
    private var partial: ByteBuffer?
    private var scannedTo = 0
    /// Of an incomplete head: line ends counted so far, up to `countedTo`.
    private var partialLines = 0
    private var countedTo = 0
    /// Of an incomplete request head: its request line has been checked.
    private var requestLineChecked = false

    public init(isRequest: Bool, maxHeadBytes: Int, maxHeadFields: Int = .max) {
        self.isRequest = isRequest
        self.maxHeadBytes = maxHeadBytes
        self.maxHeadFields = maxHeadFields
    }

    /// True between messages (nothing of the next one has arrived).
    public var isIdle: Bool { state == .head && !endPending && partial == nil }

    public mutating func next(_ input: inout ByteBuffer) throws(HTTP1FramingError) -> Event? {
        if endPending {
            endPending = false
            state = .head
            return .end
        }
        switch state {
        case .head:
            if partial == nil { skipEmptyLines(&input) }
            guard let raw = try take(&input, through: .blankLine, limit: maxHeadBytes) else {
                try checkPartialHead()
                return nil
            }
            requestLineChecked = false
            let head = isRequest ? try HTTP1Head.request(raw) : try HTTP1Head.response(raw, answering: answering)
            guard head.fieldCount <= maxHeadFields else { throw .tooManyFields }
            switch head.framing {
            case .none: endPending = true
            case .length(let n): state = .body(remaining: n)
            case .chunked: state = .chunkLine
            case .untilClose: state = .untilClose
            }
            return .head(head, raw)
        case .body(let remaining):
            guard input.readableBytes > 0 else { return nil }
            let n = min(remaining, input.readableBytes)
            if n == remaining { endPending = true } else { state = .body(remaining: remaining - n) }
            return .data(input.readSlice(length: n)!)
        case .chunkLine:
            let line: ByteBuffer?
            do {
                line = try take(&input, through: .lineEnd, limit: Self.maxChunkLineBytes)
            } catch {
                throw .malformed("chunk size line too long")
            }
            guard let line else { return nil }
            try checkLineEnd(line)
            let size = try Self.chunkSize(line)
            state = size == 0 ? .trailers(bytes: 0, fields: 0) : .chunkData(remaining: size)
            return .framing(line)
        case .chunkData(let remaining):
            guard input.readableBytes > 0 else { return nil }
            let n = min(remaining, input.readableBytes)
            state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            return .data(input.readSlice(length: n)!)
        case .chunkDataEnd:
            let line: ByteBuffer?
            do {
                line = try take(&input, through: .lineEnd, limit: 2)
            } catch {
                throw .malformed("chunk data longer than its size")
            }
            guard let line else { return nil }
            guard Self.isEmptyLine(line) else { throw .malformed("chunk data longer than its size") }
            try checkLineEnd(line)
            state = .chunkLine
            return .framing(line)
        case .trailers(let bytes, let fields):
            guard let line = try take(&input, through: .lineEnd, limit: maxHeadBytes - bytes) else { return nil }
            try checkLineEnd(line)
            if Self.isEmptyLine(line) {
                endPending = true
            } else {
                guard fields < maxHeadFields else { throw .tooManyFields }
                state = .trailers(bytes: bytes + line.readableBytes, fields: fields + 1)
            }
            return .framing(line)
        case .untilClose:
            guard input.readableBytes > 0 else { return nil }
            return .data(input.readSlice(length: input.readableBytes)!)
        }
    }

    /// The stream ended (the peer closed).
    public mutating func finish() -> Ending {
        defer {
            state = .head
            partial = nil
            endPending = false
            requestLineChecked = false
        }
        if endPending { return .endOfBody }
        switch state {
        case .head: return partial == nil ? .clean : .truncated
        case .untilClose: return .endOfBody
        default: return .truncated
        }
    }

    /// Refuses an incomplete head as soon as it has too many lines, or (requests) a request line
    /// that cannot be valid.
    private mutating func checkPartialHead() throws(HTTP1FramingError) {
        guard let partial else { return }
        partialLines += partial.withUnsafeReadableBytes { bytes in
            var lines = 0, from = countedTo
            while let lf = HTTP1Head.firstLF(bytes, from: from) {
                lines += 1
                from = lf + 1
            }
            return lines
        }
        countedTo = partial.readableBytes
        // The request or status line is not a field.
        guard partialLines - 1 <= maxHeadFields else { throw .tooManyFields }
        if isRequest && !requestLineChecked { requestLineChecked = try HTTP1Head.checkRequestLine(of: partial) }
    }

    // MARK: Buffering

    private enum Delimiter { case lineEnd, blankLine }

    /// Takes bytes through the delimiter, or keeps them in `partial` (and returns nil) until it arrives.
    private mutating func take(_ input: inout ByteBuffer, through delimiter: Delimiter, limit: Int) throws(HTTP1FramingError) -> ByteBuffer? {
        if partial == nil {
            if let end = Self.find(delimiter, in: input, from: 0) {
                guard end <= limit else { throw .headTooLarge }
                return input.readSlice(length: end)
            }
            guard input.readableBytes <= limit else { throw .headTooLarge }
            guard input.readableBytes > 0 else { return nil }
            // A copy of its own: holding a slice would pin the whole receive buffer.
            var copy = ByteBufferAllocator().buffer(capacity: max(1024, 2 * input.readableBytes))
            copy.writeBuffer(&input)
            partial = copy
            scannedTo = 0
            (partialLines, countedTo) = (0, 0)
            return nil
        }
        partial!.writeBuffer(&input)
        guard let end = Self.find(delimiter, in: partial!, from: scannedTo) else {
            guard partial!.readableBytes <= limit else { throw .headTooLarge }
            scannedTo = max(0, partial!.readableBytes - 3)
            return nil
        }
        guard end <= limit else { throw .headTooLarge }
        let taken = partial!.readSlice(length: end)!
        input = partial!
        partial = nil
        return taken
    }

    /// The length through the first line end (or the first blank line), or nil.
    private static func find(_ delimiter: Delimiter, in buffer: ByteBuffer, from: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes in
            var from = from
            while let lf = HTTP1Head.firstLF(bytes, from: from) {
                if delimiter == .lineEnd { return lf + 1 }
                if lf + 1 < bytes.count && bytes[lf + 1] == 0x0A { return lf + 2 }
                if lf + 2 < bytes.count && bytes[lf + 1] == 0x0D && bytes[lf + 2] == 0x0A { return lf + 3 }
                if lf + 2 >= bytes.count { return nil }
                from = lf + 1
            }
            return nil
        }
    }

    /// Requests, which the tee forwards unchanged, end their lines in CRLF: a bare LF could end a
    /// line here and not upstream.
    private func checkLineEnd(_ line: ByteBuffer) throws(HTTP1FramingError) {
        guard isRequest else { return }
        guard line.readableBytes >= 2, line.getInteger(at: line.writerIndex - 2, as: UInt8.self) == 0x0D else {
            throw .malformed("bare LF line ending")
        }
    }

    private static func isEmptyLine(_ line: ByteBuffer) -> Bool {
        line.readableBytes == 1 || line.readableBytes == 2 && line.getInteger(at: line.readerIndex, as: UInt8.self) == 0x0D
    }

    private func skipEmptyLines(_ input: inout ByteBuffer) {
        while let b = input.getInteger(at: input.readerIndex, as: UInt8.self), b == 0x0D || b == 0x0A {
            input.moveReaderIndex(forwardBy: 1)
        }
    }

    /// The size of a chunk-size line (hex, optionally followed by `;extensions`).
    static func chunkSize(_ line: ByteBuffer) throws(HTTP1FramingError) -> Int {
        var size = 0
        var digits = 0
        for byte in line.readableBytesView {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A")) + 10
            default:
                guard digits > 0 else { throw .malformed("invalid chunk size") }
                return size
            }
            digits += 1
            guard digits <= 15 else { throw .malformed("chunk size too large") }
            size = size * 16 + value
        }
        throw .malformed("invalid chunk size")
    }
}
