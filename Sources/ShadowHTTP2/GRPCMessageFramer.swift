/// One length-prefixed gRPC message (5-byte prefix: compressed flag, 4-byte big-endian length).
public struct GRPCMessage: Hashable, Sendable {
    /// Whether the payload is compressed with the stream's `grpc-encoding`.
    public var compressed: Bool
    public var payload: [UInt8]
    /// Offset of the prefix in the body.
    public var offset: Int
    /// Capture time of the DATA frame that completed the message, when known.
    public var timestampNs: Int64?
}

/// Why a body stopped being readable as gRPC messages. Offsets count bytes into the body.
public enum GRPCFramingError: Error, Hashable, Sendable, CustomStringConvertible {
    case badCompressedFlag(offset: Int, flag: UInt8)
    case messageTooLarge(offset: Int, length: Int, limit: Int)
    case truncated(offset: Int, have: Int, need: Int)

    public var description: String {
        switch self {
        case .badCompressedFlag(let offset, let flag): "message at offset \(offset) has compressed flag \(flag), expected 0 or 1"
        case .messageTooLarge(let offset, let length, let limit): "message at offset \(offset) is \(length) bytes, over the \(limit)-byte limit"
        case .truncated(let offset, let have, let need): "message at offset \(offset) ends after \(have) of its \(need) bytes"
        }
    }

    public var counterName: String {
        switch self {
        case .badCompressedFlag: "grpc_bad_compressed_flag"
        case .messageTooLarge: "grpc_message_too_large"
        case .truncated: "grpc_truncated_message"
        }
    }
}

/// Splits a gRPC body, fed in pieces of any size, into its messages.
///
/// Promises: messages come whole and in order however the pieces cut them; at most one message
/// (`maxMessageBytes`) is held. A message over the limit is skipped (one error) and reading goes
/// on after it; a bad compressed flag stops reading for good (framing is lost).
public struct GRPCMessageFramer: Sendable {
    public static let prefixSize = 5

    public let maxMessageBytes: Int
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var consumed = 0
    private var skipping = 0
    private var failed: GRPCFramingError?

    public init(maxMessageBytes: Int = 4 << 20) {
        self.maxMessageBytes = max(0, maxMessageBytes)
    }

    /// Bytes read into messages, skipped messages included.
    public var offset: Int { consumed }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        guard failed == nil else { return }
        var bytes = bytes[...]
        if skipping > 0 {
            let skip = min(skipping, bytes.count)
            skipping -= skip
            consumed += skip
            bytes = bytes.dropFirst(skip)
        }
        if pendingStart > 0, pendingStart * 2 >= pending.count {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
        pending.append(contentsOf: bytes)
    }

    /// The next whole message, or nil until more bytes arrive.
    public mutating func next() throws(GRPCFramingError) -> GRPCMessage? {
        if let failed { throw failed }
        while skipping == 0, pending.count - pendingStart >= Self.prefixSize {
            let start = pendingStart
            let flag = pending[start]
            guard flag <= 1 else {
                failed = .badCompressedFlag(offset: consumed, flag: flag)
                pending = []
                pendingStart = 0
                throw failed!
            }
            let length = pending[(start + 1)...(start + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length <= maxMessageBytes else {
                let error = GRPCFramingError.messageTooLarge(offset: consumed, length: length, limit: maxMessageBytes)
                let available = pending.count - start - Self.prefixSize
                let skip = min(length, available)
                pendingStart += Self.prefixSize + skip
                consumed += Self.prefixSize + skip
                skipping = length - skip
                throw error
            }
            guard pending.count - start - Self.prefixSize >= length else { return nil }
            let message = GRPCMessage(
                compressed: flag == 1, payload: Array(pending[(start + Self.prefixSize)..<(start + Self.prefixSize + length)]),
                offset: consumed, timestampNs: nil)
            pendingStart += Self.prefixSize + length
            consumed += Self.prefixSize + length
            return message
        }
        return nil
    }

    /// The body ended: an error if it ended inside a message.
    public func finish() throws(GRPCFramingError) {
        if let failed { throw failed }
        let have = pending.count - pendingStart
        if skipping > 0 { return }
        guard have > 0 else { return }
        let need = have >= Self.prefixSize
            ? Self.prefixSize + pending[(pendingStart + 1)...(pendingStart + 4)].reduce(0) { $0 << 8 | Int($1) }
            : Self.prefixSize
        throw .truncated(offset: consumed, have: have, need: need)
    }
}
