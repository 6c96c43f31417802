import NIOCore
import NIOPosix
import ShadowCore
import ShadowHTTP1

/// Reads the responses of one keep-alive connection to one target, one request at a time.
///
/// Contract (all on the channel's event loop):
/// - `begin` writes a request and arms a timer for its deadline, which bounds the whole response
///   (not the time between bytes); `onDone` is called exactly once with the outcome: a response
///   (its head and de-chunked body, as received) or an error kind, whose message says how long
///   after the write the request was given up.
/// - Framing is `HTTP1Framer`'s (strict RFC 9112): a response that cannot be framed is
///   `invalid_response`; a body over `maxBodyBytes` is `body_too_large`, as soon as its head
///   declares it or its received bytes pass the limit, so at most `maxBodyBytes` are held; a reset
///   is `connection_reset`, a close (FIN) before the end `incomplete_response`; no complete
///   response by the deadline is `timeout`. Interim 1xx responses are skipped.
/// - After any failure, a `Connection: close`, or bytes nobody asked for, the connection is
///   closed (nothing more is read from it) and `isReusable` turns false.
/// - Touched only on its channel's event loop (hence `@unchecked Sendable`).
final class SideConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private struct Pending {
        var outcome: SideOutcome
        var maxBodyBytes: Int
        var deadline: NIODeadline
        var onDone: (SideOutcome) -> Void
        var skippingInterim = false
        var keepAlive = true
        var body: [UInt8]?
    }

    private var framer = HTTP1Framer(isRequest: false, maxHeadBytes: 64 << 10)
    private var pending: Pending?
    private var context: ChannelHandlerContext?
    private var timer = LazyDeadlineTimer()
    private(set) var isReusable = true
    /// Called on the event loop when the connection has closed, after any pending request's `onDone`.
    var onClose: (() -> Void)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer.cancel()
        self.context = nil
    }

    func begin(
        _ request: ByteBuffer, kind: HTTP1RequestKind, maxBodyBytes: Int, deadline: NIODeadline,
        onDone: @escaping (SideOutcome) -> Void
    ) {
        guard let context, isReusable, pending == nil else {
            onDone(SideOutcome(sentNs: MonotonicClock.now(), error: .connectionReset, message: "connection no longer usable"))
            return
        }
        framer.answering = kind
        var outcome = SideOutcome()
        outcome.sentNs = MonotonicClock.now()
        pending = Pending(outcome: outcome, maxBodyBytes: maxBodyBytes, deadline: deadline, onDone: onDone)
        armTimer(context.eventLoop)
        context.writeAndFlush(NIOAny(request), promise: nil)
    }

    private func armTimer(_ eventLoop: EventLoop) {
        guard let deadline = pending?.deadline else { return }
        timer.arm(deadline, on: eventLoop) { [self] in
            timer.fired()
            guard let pending else { return }
            if pending.deadline <= .now() {
                fail(.timeout, "no complete response within the timeout")
            } else {
                armTimer(eventLoop)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        guard pending != nil else {
            retire()
            return
        }
        if pending?.outcome.firstByteNs == nil {
            pending?.outcome.firstByteNs = MonotonicClock.now()
        }
        do {
            while pending != nil, let event = try framer.next(&input) {
                handle(event, context: context)
            }
        } catch {
            fail(.invalidResponse, "invalid HTTP response: \(error)")
            return
        }
        if input.readableBytes > 0 { retire() }
    }

    private func handle(_ event: HTTP1Framer.Event, context: ChannelHandlerContext) {
        switch event {
        case .head(let head, let raw):
            if head.status >= 100 && head.status < 200 && head.status != 101 {
                pending?.skippingInterim = true
                return
            }
            if case .length(let declared) = head.framing, let limit = pending?.maxBodyBytes, declared > limit {
                fail(.bodyTooLarge, "response declares a body of \(declared) bytes, over the limit of \(limit)")
                return
            }
            pending?.outcome.status = head.status
            pending?.keepAlive = head.keepAlive
            pending?.outcome.headers = Self.headerSection(raw)
        case .data(let chunk):
            guard let limit = pending?.maxBodyBytes else { return }
            let have = pending?.body?.count ?? 0
            if have + chunk.readableBytes > limit {
                fail(.bodyTooLarge, "response body exceeds the limit of \(limit) bytes")
                return
            }
            if pending?.body == nil {
                pending?.body = Array(chunk.readableBytesView)
            } else {
                pending?.body?.append(contentsOf: chunk.readableBytesView)
            }
        case .framing:
            break
        case .end:
            if pending?.skippingInterim == true {
                pending?.skippingInterim = false
                return
            }
            succeed()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isReusable = false
        if pending != nil {
            if framer.finish() == .endOfBody {
                succeed()
            } else {
                fail(.incompleteResponse, "connection closed \(progress)")
            }
        }
        onClose?()
        onClose = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(SideConnection.kind(of: error), "\(error) \(progress)")
    }

    private func succeed() {
        guard var done = pending.take() else { return }
        done.outcome.lastByteNs = MonotonicClock.now()
        done.outcome.body = done.body ?? []
        if !done.keepAlive { retire() }
        done.onDone(done.outcome)
    }

    private func fail(_ kind: ReplayErrorKind, _ message: String) {
        guard var done = pending.take() else {
            retire()
            return
        }
        retire()
        done.outcome.error = kind
        done.outcome.message = "\(message) (\(SideOutcome.milliseconds(since: done.outcome.sentNs)) ms after the write)"
        done.onDone(done.outcome)
    }

    /// How far the pending response had come, for a failure's message.
    private var progress: String {
        guard let pending, pending.outcome.firstByteNs != nil else { return "before any response byte" }
        guard let status = pending.outcome.status else { return "within the response head" }
        return "after a \(status) head and \(pending.body?.count ?? 0) body bytes"
    }

    /// Stops using the connection and closes it.
    private func retire() {
        timer.cancel()
        guard isReusable else { return }
        isReusable = false
        context?.close(promise: nil)
    }

    /// The `Name: value` lines of a raw response head, joined by CRLF (the store's header text).
    static func headerSection(_ head: ByteBuffer) -> String {
        head.withUnsafeReadableBytes { bytes in
            guard let lf = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return "" }
            var end = bytes.count
            while end > lf + 1 && (bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r")) { end -= 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(lf + 1)..<end]), as: UTF8.self)
        }
    }

    /// Maps a socket or channel error onto the error kind stored with the result.
    static func kind(of error: any Error) -> ReplayErrorKind {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return .connectionRefused
            case ECONNRESET, EPIPE: return .connectionReset
            case ETIMEDOUT: return .timeout
            default: return .other
            }
        }
        if let connect = error as? NIOConnectionError {
            return connect.connectionErrors.map { kind(of: $0.error) }.first ?? .connectionRefused
        }
        if let channelError = error as? ChannelError {
            switch channelError {
            case .connectTimeout: return .timeout
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed: return .connectionReset
            default: return .other
            }
        }
        return .other
    }
}
