import NIOCore
import ShadowCore
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
    private let targets: [ReplayTarget]
    private let rewrite: RequestRewrite
    private let dropped: Set<String>

    public init(targets: [ReplayTarget], rewrite: RequestRewrite) {
        self.targets = targets
        self.rewrite = rewrite
        dropped = Self.hopByHop.union(rewrite.deleteHeaders.map { $0.lowercased() })
            .union(rewrite.setHeaders.map { $0.name.lowercased() })
    }

    /// The request's bytes for every target, in `targets` order.
    public func encode(_ request: StoredRequest) -> [ByteBuffer] {
        var recordedHost: Substring?
        var rest = ByteBuffer()
        rest.reserveCapacity(request.headers.utf8.count + request.body.count + 64)
        for line in request.headers.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            if name == "host" { recordedHost = line[line.index(after: colon)...].drop { $0 == " " } }
            if dropped.contains(name) { continue }
            rest.writeSubstring(line)
            rest.writeStaticString("\r\n")
        }
        for field in rewrite.setHeaders where field.name.lowercased() != "host" {
            rest.writeString("\(field.name): \(field.value)\r\n")
        }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            rest.writeString("Content-Length: \(request.body.count)\r\n")
        }
        rest.writeStaticString("\r\n")
        rest.writeBytes(request.body)
        let path = rewrite.target(request.target)
        return targets.map { target in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(64 + path.utf8.count + rest.readableBytes)
            buffer.writeString(request.method)
            buffer.writeStaticString(" ")
            buffer.writeString(target.pathPrefix)
            if !path.hasPrefix("/") { buffer.writeStaticString("/") }
            buffer.writeString(path)
            buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
            if rewrite.keepHost, let recordedHost {
                buffer.writeSubstring(recordedHost)
            } else {
                buffer.writeString(rewrite.host ?? target.authority)
            }
            buffer.writeStaticString("\r\n")
            buffer.writeImmutableBuffer(rest)
            return buffer
        }
    }
}
