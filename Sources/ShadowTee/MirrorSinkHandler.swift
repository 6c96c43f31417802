import NIOCore
import ShadowCore
import ShadowHTTP1

/// The mirror sink's per-connection handler: reads each request whole, answers 204 at once and
/// records it (no production response: a mirror never sees one).
///
/// The recorded target is the value of `originalURIHeader` when the request carries it (nginx's
/// `mirror` sends its subrequest to the mirror location's URI; `proxy_set_header X-Original-URI
/// $request_uri` passes the original), else the request's own URI. Headers are kept as received,
/// so those that mark mirrored traffic (Envoy's `-shadow` host suffix, X-Original-URI, ...) stay in
/// the record.
final class MirrorSinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let noContent = TeeResponse.make(204, "No Content", body: "", close: false).bytes
    private static let noContentClose = TeeResponse.make(204, "No Content", body: "", close: true).bytes

    private let session: TeeSession
    private let originalURIHeader: String?
    private var connection: Int64 = 0
    private var peer = "?"
    private var reader: RequestReader
    private var quiescing = false
    private var refusing = false

    init(session: TeeSession, originalURIHeader: String?) {
        self.session = session
        self.originalURIHeader = originalURIHeader
        reader = RequestReader(session: session)
    }

    func channelActive(context: ChannelHandlerContext) {
        (connection, peer) = session.opened(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        var input = unwrapInboundIn(data)
        while let outcome = reader.next(&input, canRespond: true) {
            switch outcome {
            case .respond(let bytes):
                context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            case .refuse(let answer):
                refusing = true
                return TeeResponse.close(context, after: answer)
            case .complete(let request):
                session.tally.add("requests")
                let close = !request.head.keepAlive || quiescing
                context.writeAndFlush(wrapOutboundOut(close ? Self.noContentClose : Self.noContent), promise: nil)
                record(request)
                if close {
                    refusing = true
                    return context.close(promise: nil)
                }
            }
        }
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
        session.record(TeeRecord(
            requestHead: request.rawHead, requestBody: request.payload, target: target,
            wallClockNs: request.wallClockNs, connection: connection, client: peer, server: session.listenLabel))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        if !reader.isReading { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reader.closed(session: session)
        context.fireChannelInactive()
    }
}
