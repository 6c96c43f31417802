import NIOCore
import NIOHPACK
import ShadowCore
@testable import ShadowHTTP2

/// Builds frames byte by byte, as a peer would write them.
enum Wire {
    static func frame(_ type: HTTP2FrameType, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        Array(HTTP2FrameHeader(length: payload.count, type: type, flags: HTTP2FrameFlags(rawValue: flags), streamID: 0).bytes.prefix(5))
            + [UInt8(truncatingIfNeeded: stream >> 24), UInt8(truncatingIfNeeded: stream >> 16), UInt8(truncatingIfNeeded: stream >> 8), UInt8(truncatingIfNeeded: stream)]
            + payload
    }

    static func settings(_ values: [(UInt16, UInt32)]) -> [UInt8] {
        frame(.settings, values.flatMap { id, value in
            [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        })
    }

    static func headers(stream: UInt32, endStream: Bool = false, _ block: [UInt8]) -> [UInt8] {
        frame(.headers, flags: 0x4 | (endStream ? 0x1 : 0), stream: stream, block)
    }

    static func data(stream: UInt32, endStream: Bool = false, _ bytes: [UInt8]) -> [UInt8] {
        frame(.data, flags: endStream ? 0x1 : 0, stream: stream, bytes)
    }

    static func grpc(_ payload: [UInt8], compressed: Bool = false) -> [UInt8] {
        let n = payload.count
        return [compressed ? 1 : 0, UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + payload
    }
}

/// HPACK blocks written by NIOHPACK's encoder, one encoder per direction as a peer keeps it.
struct Encoder {
    var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: true)

    mutating func block(_ fields: [(String, String)]) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        try! encoder.encode(headers: HPACKHeaders(fields), to: &buffer)
        return Array(buffer.readableBytesView)
    }
}

extension Array where Element == HeaderField {
    var pairs: [String] { map { "\($0.name): \($0.value)" } }
}

/// Reads every frame of `bytes` fed in pieces of `piece` bytes.
func frames(of bytes: [UInt8], start: HTTP2FrameReader.Start = .frames, piece: Int = .max, configure: (inout HTTP2FrameReader) -> Void = { _ in })
    -> (frames: [HTTP2Frame], error: HTTP2FrameError?, reader: HTTP2FrameReader)
{
    var reader = HTTP2FrameReader(start: start)
    configure(&reader)
    var out: [HTTP2Frame] = []
    var at = 0
    repeat {
        let end = min(bytes.count, at + max(1, min(piece, bytes.count)))
        reader.append(bytes[at..<end])
        at = end
        do {
            while let frame = try reader.next() { out.append(frame) }
        } catch {
            return (out, error, reader)
        }
    } while at < bytes.count
    return (out, nil, reader)
}
