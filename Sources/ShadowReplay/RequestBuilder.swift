import NIOCore
import ShadowCore
import ShadowHTTP1
import ShadowStore

/// Encodes a stored request as the HTTP/1.1 bytes sent to each target.
///
/// Keeps method, target, headers and body as recorded, except: the rewrites apply, the target's
/// path prefix is put in front of the request target, `Host` names the target (unless the rewrite
/// says otherwise), hop-by-hop headers are dropped and `Content-Length` is set from the stored
/// (de-chunked) body. Everything after the Host line is encoded once and shared by every side.
public struct RequestBuilder: Sendable {
    private static let hopByHop: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
        "te", "trailer", "upgrade", "expect",
    ]
    private let rewrite: RequestRewrite
    /// Lower-case names of the recorded headers left out, as bytes.
    private let dropped: [[UInt8]]
    /// The rewrite's set headers other than Host, encoded once.
    private let setLines: [UInt8]
    /// Per target: its path prefix, and the Host value sent unless the recorded one is kept.
    private let targetBytes: [(pathPrefix: [UInt8], host: [UInt8])]

    public init(targets: [ReplayTarget], rewrite: RequestRewrite) {
        self.rewrite = rewrite
        dropped = Self.hopByHop.union(rewrite.deleteHeaders.map { $0.lowercased() })
            .union(rewrite.setHeaders.map { $0.name.lowercased() }).map { Array($0.utf8) }
        setLines = Array(rewrite.setHeaders.filter { $0.name.lowercased() != "host" }
            .map { "\($0.name): \($0.value)\r\n" }.joined().utf8)
        targetBytes = targets.map { (Array($0.pathPrefix.utf8), Array((rewrite.host ?? $0.authority).utf8)) }
    }

    /// The request's bytes for every target, in `targets` order.
    public func encode(_ request: StoredRequest) -> [ByteBuffer] {
        var headers = request.headers
        var recordedHost: [UInt8]?
        var rest = Self.allocator.buffer(capacity: headers.utf8.count + setLines.count + request.body.count + 64)
        headers.withUTF8 { text in
            var start = 0
            while start < text.count {
                var end = start
                while end < text.count && !(text[end] == 13 && end + 1 < text.count && text[end + 1] == 10) { end += 1 }
                let line = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: text[start..<end]))
                start = end + 2
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
                if HTTP1Head.equalsLowercase(name, Self.host) {
                    recordedHost = Array(line[(colon + 1)...].drop { $0 == UInt8(ascii: " ") })
                }
                if isDropped(name) { continue }
                rest.writeBytes(line)
                rest.writeStaticString("\r\n")
            }
        }
        rest.writeBytes(setLines)
        if !request.body.isEmpty || Self.bodyMethods.contains(request.method) {
            rest.writeStaticString("Content-Length: ")
            rest.writeString(String(request.body.count))
            rest.writeStaticString("\r\n")
        }
        rest.writeStaticString("\r\n")
        rest.writeBytes(request.body)
        let path = rewrite.target(request.target)
        return targetBytes.map { target in
            var buffer = Self.allocator.buffer(capacity: 64 + request.method.utf8.count + target.pathPrefix.count + path.utf8.count
                + max(target.host.count, recordedHost?.count ?? 0) + rest.readableBytes)
            buffer.writeString(request.method)
            buffer.writeStaticString(" ")
            buffer.writeBytes(target.pathPrefix)
            if !path.hasPrefix("/") { buffer.writeStaticString("/") }
            buffer.writeString(path)
            buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
            if rewrite.keepHost, let recordedHost {
                buffer.writeBytes(recordedHost)
            } else {
                buffer.writeBytes(target.host)
            }
            buffer.writeStaticString("\r\n")
            buffer.writeImmutableBuffer(rest)
            return buffer
        }
    }

    private static let allocator = ByteBufferAllocator()
    private static let host = Array("host".utf8)
    private static let bodyMethods: Set<String> = ["POST", "PUT", "PATCH"]

    /// Whether a header of this name is left out. A name that is not ASCII is compared by its
    /// Unicode lower case, as the deleted names are.
    private func isDropped(_ name: UnsafeRawBufferPointer) -> Bool {
        if name.contains(where: { $0 >= 0x80 }) {
            let lowered = Array(String(decoding: name, as: UTF8.self).lowercased().utf8)
            return dropped.contains(lowered)
        }
        return dropped.contains { HTTP1Head.equalsLowercase(name, $0) }
    }
}
