import NIOCore
import NIOHTTP1
import ShadowCore

/// Turns a recorded request into the request sent to one target.
///
/// Keeps method, target, headers and body as recorded, except: the target's path prefix is put
/// in front of the request target, `Host` names the target, hop-by-hop headers are dropped and
/// `Content-Length` is set from the stored (de-chunked) body.
enum RequestBuilder {
    private static let dropped: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
        "te", "trailer", "upgrade", "expect",
    ]

    static func head(for request: RecordedRequest, to target: ReplayTarget) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.authority)
        for field in request.headers where !dropped.contains(field.name.lowercased()) {
            headers.add(name: field.name, value: field.value)
        }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            headers.add(name: "Content-Length", value: String(request.body.count))
        }
        let uri = target.pathPrefix + (request.target.hasPrefix("/") ? request.target : "/" + request.target)
        return HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: uri, headers: headers)
    }
}
