import NIOCore
import ShadowCore
import ShadowHTTP1

/// The mirror sink's per-connection handler, after `ClientConnectionHandler` (which reads the
/// requests and bounds the client): answers each request 204 at once and records it (no
/// production response: a mirror never sees one).
///
/// The recorded target is the value of `originalURIHeader` when the request carries it (nginx's
/// `mirror` sends its subrequest to the mirror location's URI; `proxy_set_header X-Original-URI
/// $request_uri` passes the original), else the request's own URI. Headers are kept as received,
/// so those that mark mirrored traffic (Envoy's `-shadow` host suffix, X-Original-URI, ...) stay in
/// the record.
final class MirrorSinkHandler: ChannelInboundHandler {
    typealias InboundIn = IncomingRequest
    typealias OutboundOut = ByteBuffer

    private static let noContent = TeeResponse.make(204, "No Content", body: "", close: false).bytes
    private static let noContentClose = TeeResponse.make(204, "No Content", body: "", close: true).bytes

    private let session: TeeSession
    private let spool: RecordSpool
    private let originalURIHeader: String?
    private var connection: Int64 = 0
    private var peer = "?"
    private var quiescing = false

    init(session: TeeSession, spool: RecordSpool, originalURIHeader: String?) {
        self.session = session
        self.spool = spool
        self.originalURIHeader = originalURIHeader
    }

    func channelActive(context: ChannelHandlerContext) {
        (connection, peer) = session.opened(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        if !request.head.keepAlive || quiescing {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(Self.noContentClose)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(Self.noContent), promise: nil)
        }
        record(request)
        context.triggerUserOutboundEvent(RequestAnswered(), promise: nil)
    }

    private func record(_ request: IncomingRequest) {
        if let reason = session.policy.exclusion(
            method: request.head.method, target: request.head.target,
            header: { HTTP1Head.value(of: $0, in: request.rawHead) }, connectionKey: peer)
        {
            return session.tally.add(reason)
        }
        var target: String?
        if let originalURIHeader, let original = HTTP1Head.value(of: originalURIHeader, in: request.rawHead),
           original.hasPrefix("/")
        {
            target = original
            session.tally.add("original_uri")
        }
        spool.append(TeeRecord(
            requestHead: request.rawHead, requestBody: request.payload, target: target,
            wallClockNs: request.wallClockNs, connection: connection, client: peer, server: session.listenLabel))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { quiescing = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
