import NIOCore
import ShadowCore

/// Sent outbound by the handler that answers requests (`ProxyHandler`, `MirrorSinkHandler`) each
/// time it has answered one, or given up on it.
struct RequestAnswered {}

/// The client side of every tee connection, first in its pipeline: reads requests
/// (`RequestReader`) and passes each on whole, as an `IncomingRequest`, to the handler that answers
/// it, which sends `RequestAnswered` back once it has. Every client is bounded by the session's
/// `TeeLimits`, each refusal counted:
///
/// - Over `maxConnections`: closed as soon as accepted, unread (`connection_limit`); the handlers
///   after this one never see it.
/// - A head not complete within `headerTimeout`, or a body stalled for `bodyTimeout`: 408. Invalid
///   requests 400, heads over a limit 431, bodies over the limit 413 (`ClientRefusal`). The answer
///   goes out when no other response is being written (else the connection just closes); then the
///   tee shuts its sending side and discards what the client still sends until it closes, for at
///   most `bodyTimeout` (nginx's lingering close), so that the client reads the answer and not a reset.
/// - Nothing in progress for `idleTimeout` (on a new connection, `headerTimeout`): closed without
///   a word (`idle_timeouts`).
/// - After a request that does not keep the connection alive, input is ignored.
/// - On `ChannelShouldQuiesceEvent` (shutdown): closes once nothing is being read or answered.
///
/// Its one timer is a task scheduled on the connection's event loop, moved only when a deadline
/// comes earlier than the one it waits for: a busy keep-alive connection schedules about one per
/// `idleTimeout`.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = IncomingRequest
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the connection waits for.
    private enum Wait { case head, body, idle, linger }

    private let session: TeeSession
    private var reader: RequestReader
    /// Accepted within `maxConnections` (holding a slot) and not closed yet.
    private var active = false
    /// Requests passed on and not yet answered.
    private var unanswered = 0
    private var quiescing = false
    /// No more requests are read: one was refused, or the last one was passed on.
    private var closing = false
    private var receivedAny = false
    private var headStarted = NIODeadline.now()
    private var lastRead = NIODeadline.now()
    private var lastAnswered = NIODeadline.now()
    private var lingerUntil: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerAt = NIODeadline.distantFuture

    init(session: TeeSession) {
        self.session = session
        reader = RequestReader(limits: session.limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        (headStarted, lastRead, lastAnswered) = (.now(), .now(), .now())
        guard session.tally.openConnection(limit: session.limits.maxConnections) else {
            closing = true
            return context.close(promise: nil)
        }
        active = true
        rearm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var input = unwrapInboundIn(data)
        let now = NIODeadline.now()
        lastRead = now
        let wasInHead = reader.phase == .head
        var completed = false
        while !closing && context.channel.isActive, let outcome = reader.next(&input) {
            switch outcome {
            case .continueExpected:
                if unanswered == 0 { context.writeAndFlush(wrapOutboundOut(TeeResponse.continue), promise: nil) }
            case .refuse(let refusal):
                refuse(refusal, context)
            case .complete(let request):
                completed = true
                unanswered += 1
                if !request.head.keepAlive { closing = true }
                session.tally.add(.requests)
                context.fireChannelRead(wrapInboundOut(request))
            }
        }
        // A new connection's head is timed from its start; a later one from its first byte.
        if reader.phase == .head && (completed || receivedAny && !wasInHead) { headStarted = now }
        receivedAny = true
        rearm(context)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RequestAnswered else { return context.triggerUserOutboundEvent(event, promise: promise) }
        promise?.succeed()
        unanswered -= 1
        lastAnswered = .now()
        if quiescing && isIdle { return closeAfterWrites(context) }
        rearm(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        guard event is ChannelShouldQuiesceEvent else { return }
        quiescing = true
        if isIdle { closeAfterWrites(context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if active {
            active = false
            session.tally.closeConnection()
        }
        if !closing && reader.closed() { session.tally.add(.clientClosed) }
        context.fireChannelInactive()
    }

    /// Nothing is being read or answered.
    private var isIdle: Bool { unanswered == 0 && reader.phase == .betweenRequests }

    /// Answers `refusal` when nothing else is being answered, then closes (lingering).
    private func refuse(_ refusal: ClientRefusal, _ context: ChannelHandlerContext) {
        session.tally.add(refusal.reason)
        closing = true
        guard unanswered == 0 else { return context.close(promise: nil) }
        lingerUntil = .now() + session.limits.bodyTimeout
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(refusal.response)).whenComplete { result in
            if case .success = result { channel.close(mode: .output, promise: nil) } else { channel.close(promise: nil) }
        }
    }

    /// Closes once everything written so far went out (an empty write completes after them).
    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        closing = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: Deadlines

    /// When the current wait runs out, if anything is waited for.
    private var deadline: (at: NIODeadline, wait: Wait)? {
        if closing { return lingerUntil.map { ($0, .linger) } }
        let limits = session.limits
        switch reader.phase {
        case .head: return (headStarted + limits.headerTimeout, .head)
        case .body: return (lastRead + limits.bodyTimeout, .body)
        case .betweenRequests:
            guard unanswered == 0 else { return nil }
            return receivedAny ? (lastAnswered + limits.idleTimeout, .idle) : (headStarted + limits.headerTimeout, .idle)
        }
    }

    /// Makes the timer fire by the current deadline.
    private func rearm(_ context: ChannelHandlerContext) {
        guard active, let at = deadline?.at, at < timerAt else { return }
        timer?.cancel()
        timerAt = at
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) { [self] in expire(context) }
    }

    private func expire(_ context: ChannelHandlerContext) {
        (timer, timerAt) = (nil, .distantFuture)
        guard let (at, wait) = deadline else { return }
        guard at <= .now() else { return rearm(context) }
        switch wait {
        case .head: refuse(.headerTimeout, context)
        case .body: refuse(.bodyTimeout, context)
        case .idle:
            session.tally.add("idle_timeouts")
            closing = true
            context.close(promise: nil)
        case .linger:
            lingerUntil = nil
            context.close(promise: nil)
        }
        rearm(context)
    }
}
