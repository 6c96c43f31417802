import NIOCore
import ShadowCore

/// A stretch of one direction's reassembled stream: bytes, or a hole of known length.
struct StreamPiece: Sendable {
    enum Content: Sendable {
        case bytes(ByteBuffer)
        case gap(Int)
    }

    var content: Content
    /// Capture time of the packet that made the piece available in order.
    var timestampNs: Int64

    static func bytes(_ bytes: some Sequence<UInt8>, at timestampNs: Int64) -> StreamPiece {
        StreamPiece(content: .bytes(ByteBuffer(bytes: bytes)), timestampNs: timestampNs)
    }

    var byteCount: Int {
        switch content {
        case .bytes(let buffer): buffer.readableBytes
        case .gap: 0
        }
    }
}

/// Keeps what a reassembler delivers, in order, for a consumer that is not a parser of that
/// direction alone (the protocol sniffing, the HTTP/2 decoder). Bytes are copied once.
struct PieceQueue: ByteStreamConsumer {
    private(set) var pieces: [StreamPiece] = []

    mutating func receive(_ bytes: UnsafeRawBufferPointer, timestampNs: Int64, tally: inout CaptureTally) {
        pieces.append(.bytes(bytes, at: timestampNs))
    }

    mutating func gap(_ byteCount: Int, timestampNs: Int64, tally: inout CaptureTally) {
        pieces.append(StreamPiece(content: .gap(byteCount), timestampNs: timestampNs))
    }
}
