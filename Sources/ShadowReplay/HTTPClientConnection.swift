import NIOCore
import NIOHTTP1
import NIOPosix
import ShadowCore

/// A response collected by `HTTPClientConnection`, with monotonic timestamps (ns).
struct TimedResponse: Sendable {
    var response: RecordedResponse
    var sentNs: UInt64
    var firstByteNs: UInt64
    var lastByteNs: UInt64
}

/// Why a request on a connection failed; maps onto `ReplayErrorKind`.
struct ReplayFailure: Error, Sendable {
    var kind: ReplayErrorKind
    var message: String
    /// Monotonic time the request was written, when it was.
    var sentNs: UInt64?
}

/// One keep-alive HTTP/1.1 connection to a target, carrying one request at a time.
///
/// After any failure the connection is closed and must be replaced.
final class HTTPClientConnection: Sendable {
    let channel: Channel

    private init(channel: Channel) {
        self.channel = channel
    }

    static func connect(to target: ReplayTarget, group: EventLoopGroup, timeout: TimeAmount) async throws(ReplayFailure)
        -> HTTPClientConnection
    {
        do {
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector())
                    }
                }
                .connect(host: target.host, port: target.port)
                .get()
            return HTTPClientConnection(channel: channel)
        } catch {
            throw ReplayFailure(kind: Self.kind(of: error, connecting: true), message: "\(target.url): \(error)")
        }
    }

    /// Sends one request and waits for the whole response, at most `timeout` from the write.
    func send(_ head: HTTPRequestHead, body: ByteBuffer, maxBodyBytes: Int, timeout: TimeAmount) async throws(ReplayFailure)
        -> TimedResponse
    {
        let promise = channel.eventLoop.makePromise(of: TimedResponse.self)
        let request = PendingRequest(head: head, body: body, maxBodyBytes: maxBodyBytes, promise: promise)
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(ReplayFailure(kind: .timeout, message: "no complete response within \(timeout.nanoseconds / 1_000_000) ms"))
            channel.close(promise: nil)
        }
        // A write that fails before reaching the collector (a closed channel) fails the response too.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            promise.fail(ReplayFailure(kind: Self.kind(of: error, connecting: false), message: "write failed: \(error)"))
        }
        channel.writeAndFlush(request, promise: written)
        do {
            let response = try await promise.futureResult.get()
            timer.cancel()
            return response
        } catch let failure as ReplayFailure {
            timer.cancel()
            throw failure
        } catch {
            timer.cancel()
            channel.close(promise: nil)
            throw ReplayFailure(kind: Self.kind(of: error, connecting: false), message: "\(error)")
        }
    }

    func close() async {
        try? await channel.close()
    }

    static func kind(of error: any Error, connecting: Bool) -> ReplayErrorKind {
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return .connectionRefused
            case ECONNRESET, EPIPE: return .connectionReset
            case ETIMEDOUT: return .timeout
            default: return .other
            }
        }
        if let connect = error as? NIOConnectionError {
            return connect.connectionErrors.map { kind(of: $0.error, connecting: true) }.first ?? .connectionRefused
        }
        if error is HTTPParserError { return .invalidResponse }
        if let channelError = error as? ChannelError {
            switch channelError {
            case .connectTimeout: return .timeout
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed: return .connectionReset
            default: return .other
            }
        }
        return connecting ? .connectionRefused : .other
    }
}

/// A request written into the pipeline together with the promise its response completes.
struct PendingRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var maxBodyBytes: Int
    var promise: EventLoopPromise<TimedResponse>
}

/// Writes a `PendingRequest` and collects the response parts into a `TimedResponse`.
///
/// Timestamps come from the monotonic clock on the event loop: `sentNs` just before the
/// request is written, `firstByteNs` at the response head, `lastByteNs` at its end.
final class ResponseCollector: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: PendingRequest?
    private var sentNs: UInt64 = 0
    private var firstByteNs: UInt64 = 0
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard pending == nil else {
            request.promise.fail(ReplayFailure(kind: .other, message: "a request is already in flight on this connection"))
            return
        }
        pending = request
        head = nil
        body.removeAll(keepingCapacity: true)
        sentNs = Self.now()
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if request.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let request = pending else { return }
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            if head == nil { firstByteNs = Self.now() }
            // Interim 1xx responses are skipped; the final response follows.
            if responseHead.status.code >= 100 && responseHead.status.code < 200 && responseHead.status.code != 101 { return }
            head = responseHead
        case .body(let buffer):
            if body.count + buffer.readableBytes > request.maxBodyBytes {
                fail(context: context, ReplayFailure(
                    kind: .bodyTooLarge, message: "response body exceeds \(request.maxBodyBytes) bytes", sentNs: sentNs))
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            let lastByteNs = Self.now()
            pending = nil
            let headers = head.headers.map { HeaderField($0.name, $0.value) }
            request.promise.succeed(TimedResponse(
                response: RecordedResponse(status: Int(head.status.code), headers: headers, body: body),
                sentNs: sentNs, firstByteNs: firstByteNs, lastByteNs: lastByteNs))
            body = []
            if !head.isKeepAlive { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let kind = HTTPClientConnection.kind(of: error, connecting: false)
        fail(context: context, ReplayFailure(kind: kind, message: "\(error)", sentNs: sentNs))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if pending != nil {
            fail(context: context, ReplayFailure(
                kind: .connectionReset, message: "connection closed before the response was complete", sentNs: sentNs))
        }
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, _ failure: ReplayFailure) {
        pending?.promise.fail(failure)
        pending = nil
        context.close(promise: nil)
    }

    static func now() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }
}
