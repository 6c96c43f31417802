/// Tells whether a byte stream is HTTP/2: the client preface, or, for a capture that starts
/// mid-connection, a run of frame headers that fit together.
public enum HTTP2Sniffer {
    /// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
    public static let clientPreface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    public enum Verdict: Hashable, Sendable {
        /// The stream starts with the client preface.
        case preface
        /// A frame starts at `offset` and the frames after it fit together.
        case frames(offset: Int)
        /// The bytes seen so far are consistent with HTTP/2 but do not settle it.
        case needMoreBytes
        case notHTTP2
    }

    /// Looks at the start of a direction's stream. Frames are searched for in the first
    /// `scanLimit` bytes; a frame header counts only with the frame after it, or when its frame
    /// ends exactly where `bytes` end.
    public static func sniff(_ bytes: some Collection<UInt8>, maxFrameSize: Int = 16384, scanLimit: Int = 0) -> Verdict {
        let bytes = Array(bytes.prefix(scanLimit + 2 * HTTP2FrameHeader.size + maxFrameSize))
        let prefix = min(bytes.count, clientPreface.count)
        if prefix > 0, bytes[..<prefix].elementsEqual(clientPreface[..<prefix]) {
            return prefix == clientPreface.count ? .preface : .needMoreBytes
        }
        return bytes.withUnsafeBytes { frameBoundary(in: $0, maxFrameSize: maxFrameSize, scanLimit: scanLimit) }
    }

    static func frameBoundary(in bytes: UnsafeRawBufferPointer, maxFrameSize: Int, scanLimit: Int) -> Verdict {
        scan(bytes, maxFrameSize: maxFrameSize, scanLimit: scanLimit).verdict
    }

    /// The verdict, and how many leading bytes are ruled out as a frame start whatever follows.
    static func scan(_ bytes: UnsafeRawBufferPointer, maxFrameSize: Int, scanLimit: Int) -> (verdict: Verdict, ruledOut: Int) {
        var offset = 0
        while offset <= scanLimit, offset < bytes.count {
            guard bytes.count - offset >= HTTP2FrameHeader.size else { return (.needMoreBytes, offset) }
            let header = HTTP2FrameHeader(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset...]))!
            if isPlausible(header, reservedBit: bytes[offset + 5] & 0x80 != 0, maxFrameSize: maxFrameSize) {
                let next = offset + HTTP2FrameHeader.size + header.length
                if next == bytes.count { return (.frames(offset: offset), offset) }
                guard next + HTTP2FrameHeader.size <= bytes.count else { return (.needMoreBytes, offset) }
                let following = HTTP2FrameHeader(decoding: UnsafeRawBufferPointer(rebasing: bytes[next...]))!
                if isPlausible(following, reservedBit: bytes[next + 5] & 0x80 != 0, maxFrameSize: maxFrameSize) {
                    return (.frames(offset: offset), offset)
                }
            }
            offset += 1
        }
        return (offset > scanLimit ? .notHTTP2 : .needMoreBytes, offset)
    }

    /// Whether a frame header could have been written by a conforming peer: a known type, only
    /// the flags defined for it, the stream id it must have and a length it may have.
    public static func isPlausible(_ header: HTTP2FrameHeader, reservedBit: Bool = false, maxFrameSize: Int = 16384) -> Bool {
        guard !reservedBit, header.type.isKnown, header.length <= maxFrameSize else { return false }
        let flags = header.flags.rawValue, length = header.length, onStream = header.streamID != 0
        switch header.type {
        case .data: return onStream && flags & ~0x09 == 0
        case .headers: return onStream && flags & ~0x2D == 0
        case .priority: return onStream && flags == 0 && length == 5
        case .rstStream: return onStream && flags == 0 && length == 4
        case .settings: return !onStream && (flags == 0 ? length % 6 == 0 : flags == 1 && length == 0)
        case .pushPromise: return onStream && flags & ~0x0C == 0 && length >= 4
        case .ping: return !onStream && flags & ~0x01 == 0 && length == 8
        case .goAway: return !onStream && flags == 0 && length >= 8
        case .windowUpdate: return flags == 0 && length == 4
        default: return onStream && flags & ~0x04 == 0
        }
    }
}
