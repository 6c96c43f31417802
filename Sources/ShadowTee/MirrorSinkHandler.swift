import NIOCore
import NIOHTTP1
import ShadowCore

/// The mirror sink's per-connection handler: reads each request whole, answers 204 at once and
/// records it (no production response: a mirror never sees one).
///
/// The recorded target is the value of `originalURIHeader` when the request carries it (nginx's
/// `mirror` sends its subrequest to the mirror location's URI; `proxy_set_header X-Original-URI
/// $request_uri` passes the original), else the request's own URI. Headers are kept as received,
/// so those that mark mirrored traffic (Envoy's `-shadow` host suffix, X-Original-URI, ...) stay in
/// the record.
final class MirrorSinkHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let session: TeeSession
    private let originalURIHeader: String?
    private var connection: Int64 = 0
    private var peer = "?"
    private var reader = RequestReader()
    private var quiescing = false

    init(session: TeeSession, originalURIHeader: String?) {
        self.session = session
        self.originalURIHeader = originalURIHeader
    }

    func channelActive(context: ChannelHandlerContext) {
        (connection, peer) = session.opened(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request: IncomingRequest
        switch reader.read(unwrapInboundIn(data), context: context, session: session) {
        case .reading: return
        case .close: return context.close(promise: nil)
        case .complete(let complete): request = complete
        }
        session.tally.add("requests")
        var headers = HTTPHeaders()
        if !request.head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .noContent, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if !request.head.isKeepAlive || quiescing { context.close(promise: nil) }
        record(request)
    }

    private func record(_ request: IncomingRequest) {
        let head = request.head
        if let reason = session.policy.exclusion(
            method: head.method.rawValue, target: head.uri, header: { head.headers.first(name: $0) }, connectionKey: peer)
        {
            return session.tally.add(reason)
        }
        var target: String?
        if let originalURIHeader, let original = head.headers.first(name: originalURIHeader), original.hasPrefix("/") {
            target = original
            session.tally.add("original_uri")
        }
        let received = [HeaderField](head.headers)
        let (headers, redacted) = session.policy.redact(received)
        if redacted > 0 { session.tally.add("redacted_headers", Int64(redacted)) }
        let exchange = CapturedExchange(
            captureTimeNs: request.wallClockNs, connection: connection, client: peer, server: session.listenLabel,
            request: request.recorded(target: target, headers: headers), response: nil, productionLatencyNs: nil)
        session.tally.record(exchange, to: session.recorder)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        if !reader.isReading { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError { session.countClientError(error) }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reader.closed(session: session)
        context.fireChannelInactive()
    }
}
