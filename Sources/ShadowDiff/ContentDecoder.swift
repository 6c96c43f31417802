import CompressNIO
import NIOCore
import ShadowCore

/// Undoes `Content-Encoding` so that bodies are compared by meaning, not by compressed bytes.
///
/// Contract: bodies are stored as sent; decoding happens only here, when comparing. `gzip`/`x-gzip`,
/// `deflate` (zlib-wrapped, or raw deflate as some servers send) and `identity` are understood,
/// also chained (`gzip, gzip`). Anything else (`br`, `zstd`), a corrupt stream, or output larger
/// than `maxBytes` leaves the body as it was, with the reason.
public enum ContentDecoder {
    public enum Outcome: Sendable, Equatable {
        /// No content coding was applied.
        case identity
        /// Decoded from the named codings.
        case decoded(String)
        /// Left as sent: why.
        case undecodable(String)
    }

    public static let defaultMaxBytes = 64 << 20

    /// The body with its content codings removed, and what was done.
    public static func decode(_ body: [UInt8], headers: [HeaderField], maxBytes: Int = defaultMaxBytes) -> ([UInt8], Outcome) {
        guard let header = headers.first("Content-Encoding") else { return (body, .identity) }
        let codings = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        guard !codings.isEmpty, !body.isEmpty else { return (body, .identity) }
        var bytes = body
        for coding in codings.reversed() {
            let attempts: [CompressionAlgorithm]
            switch coding {
            case "gzip", "x-gzip": attempts = [.gzip()]
            case "deflate": attempts = [.zlib(), .deflate()]
            default: return (body, .undecodable("unsupported content coding '\(coding)'"))
            }
            guard let decoded = attempts.lazy.compactMap({ inflate(bytes, $0, maxBytes) }).first else {
                return (body, .undecodable("\(coding) body is corrupt or decodes to more than \(maxBytes) bytes"))
            }
            bytes = decoded
        }
        return (bytes, .decoded(codings.joined(separator: ", ")))
    }

    private static func inflate(_ bytes: [UInt8], _ algorithm: CompressionAlgorithm, _ maxBytes: Int) -> [UInt8]? {
        var buffer = ByteBuffer(bytes: bytes)
        guard let output = try? buffer.decompress(with: algorithm, maxSize: maxBytes, allocator: ByteBufferAllocator()) else {
            return nil
        }
        return Array(output.readableBytesView)
    }
}
