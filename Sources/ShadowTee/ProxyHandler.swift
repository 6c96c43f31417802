import NIOCore
import NIOHTTP1
import ShadowCore

/// The recording proxy's per-connection handler: forwards each request to the upstream through
/// its event loop's `UpstreamPool`, streams the response back as it arrives, and records the
/// exchange (request, production response, upstream latency in ns) once the response is complete.
///
/// Contract:
/// - Forwarding never waits on recording: the record is offered to the `ExchangeRecorder`, which
///   refuses (counted) rather than blocks.
/// - One request at a time per connection: pipelined requests wait in order (reading pauses
///   while `maxPipelined` wait), so responses go back in request order.
/// - On `ChannelShouldQuiesceEvent` (shutdown), the connection closes once nothing is in flight.
/// - Upstream failures before the response begins answer 502 (504 for timeouts) and are recorded
///   with `prod_error`; after it begins, the client connection is closed, since its status is gone.
/// - A reused upstream connection that closes before any response byte is retried once on a new
///   connection (the upstream closed an idle keep-alive connection as the request went out).
/// - Request bodies over `maxBodyBytes` get 413 and close the connection, counted `oversized_body`.
final class ProxyHandler: ChannelInboundHandler, UpstreamResponseDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The request being forwarded and what has come back so far.
    private struct InFlight {
        var request: IncomingRequest
        /// Why it will not be recorded, decided when it was read.
        var exclusion: DropReason?
        var upstream: UpstreamConnection?
        var timer: Scheduled<Void>?
        var sentNs: UInt64 = 0
        var retried = false
        var responseHead: HTTPResponseHead?
        var responseBody: ByteBuffer?
        var responseTooLarge = false
    }

    private let session: TeeSession
    private let pool: UpstreamPool
    private let upstreamLabel: String
    private let responseTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var connection: Int64 = 0
    private var peer = "?"
    private var reader = RequestReader()
    private var inFlight: InFlight?
    private var pipelined = CircularBuffer<IncomingRequest>()
    private let maxPipelined = 64
    private var quiescing = false

    init(session: TeeSession, pool: UpstreamPool, upstream: UpstreamConfiguration) {
        self.session = session
        self.pool = pool
        self.upstreamLabel = upstream.address.description
        self.responseTimeout = upstream.responseTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        (connection, peer) = session.opened(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // Nothing may be written between another response's head and end.
        let idle = inFlight == nil && pipelined.isEmpty
        if idle, case .head(let head) = part, head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
        let request: IncomingRequest
        switch reader.read(part, context: context, session: session, canRespond: idle) {
        case .reading: return
        case .close: return context.close(promise: nil)
        case .complete(let complete): request = complete
        }
        session.tally.add("requests")
        if inFlight == nil {
            start(request)
        } else {
            pipelined.append(request)
            if pipelined.count >= maxPipelined { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
        }
    }

    private func start(_ request: IncomingRequest) {
        let exclusion = session.policy.exclusion(
            method: request.head.method.rawValue, target: request.head.uri,
            header: { request.head.headers.first(name: $0) }, connectionKey: peer)
        inFlight = InFlight(request: request, exclusion: exclusion)
        session.tally.began()
        dispatch(fresh: false)
    }

    /// After a response: the next pipelined request, or the close a shutdown asked for.
    private func next() {
        if let request = pipelined.popFirst() {
            if pipelined.count == maxPipelined - 1 { context?.channel.setOption(.autoRead, value: true).whenComplete { _ in } }
            start(request)
        } else if quiescing && !reader.isReading {
            context?.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        if inFlight == nil && !reader.isReading && pipelined.isEmpty { context.close(promise: nil) }
    }

    private func dispatch(fresh: Bool) {
        pool.acquire(fresh: fresh) { [self] result in
            switch result {
            case .success(let upstream): send(on: upstream)
            case .failure(let failure): finish(failing: failure)
            }
        }
    }

    private func send(on upstream: UpstreamConnection) {
        guard var flight = inFlight else { return pool.release(upstream) }
        flight.upstream = upstream
        flight.sentNs = TeeClock.monotonicNs()
        flight.timer = pool.eventLoop.assumeIsolated().scheduleTask(in: responseTimeout) { [self] in timedOut() }
        if flight.exclusion == nil { flight.responseBody = context?.channel.allocator.buffer(capacity: 0) }
        inFlight = flight
        upstream.send(flight.request.head, body: flight.request.body, to: self)
    }

    // MARK: Upstream response

    func upstreamHead(_ head: HTTPResponseHead) {
        inFlight?.responseHead = head
        context?.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    func upstreamBody(_ part: ByteBuffer) {
        if inFlight?.responseBody != nil {
            if inFlight!.responseBody!.readableBytes + part.readableBytes > session.limits.maxBodyBytes {
                inFlight!.responseBody = nil
                inFlight!.responseTooLarge = true
            } else {
                inFlight!.responseBody!.writeImmutableBuffer(part)
            }
        }
        context?.write(wrapOutboundOut(.body(.byteBuffer(part))), promise: nil)
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamEnd() {
        guard let flight = inFlight, let head = flight.responseHead else { return }
        let latency = TeeClock.monotonicNs() &- flight.sentNs
        flight.timer?.cancel()
        if let upstream = flight.upstream { pool.release(upstream) }
        session.tally.add("responses")
        if let context {
            if flight.request.head.isKeepAlive && head.isKeepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
        complete(flight, response: head, body: flight.responseBody, latencyNs: latency, error: nil)
    }

    func upstreamFailed(_ failure: UpstreamFailure, receivedAnything: Bool, reused: Bool) {
        guard var flight = inFlight else { return }
        flight.timer?.cancel()
        if let upstream = flight.upstream { pool.discard(upstream) }
        if failure == .closed && reused && !receivedAnything && !flight.retried {
            flight.retried = true
            flight.upstream = nil
            inFlight = flight
            session.tally.add("upstream_retries")
            return dispatch(fresh: true)
        }
        inFlight = flight
        finish(failing: failure)
    }

    private func timedOut() {
        guard let flight = inFlight, let upstream = flight.upstream else { return }
        upstream.abandon()
        pool.discard(upstream)
        finish(failing: .timeout)
    }

    /// Ends the in-flight request with `failure`: a 502/504 of our own when nothing was forwarded
    /// yet, else a closed client connection.
    private func finish(failing failure: UpstreamFailure) {
        guard let flight = inFlight else { return }
        flight.timer?.cancel()
        let latency = flight.sentNs == 0 ? nil : TeeClock.monotonicNs() &- flight.sentNs
        if let head = flight.responseHead {
            session.tally.add("upstream_failed_midway")
            context?.close(promise: nil)
            complete(flight, response: head, body: flight.responseBody, latencyNs: latency, error: failure.name)
            return
        }
        session.tally.add(failure.status == .gatewayTimeout ? "upstream_timeouts" : "upstream_errors")
        let body = ByteBuffer(string: failure.message + "\n")
        let close = !flight.request.head.isKeepAlive
        let head = HTTPResponseHead.tee(failure.status, bodyBytes: body.readableBytes, close: close)
        if let context {
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in if close { channel.close(promise: nil) } }
        }
        complete(flight, response: head, body: body, latencyNs: latency, error: failure.name)
    }

    /// Clears the in-flight request and records it unless it was excluded or too large.
    private func complete(_ flight: InFlight, response: HTTPResponseHead, body: ByteBuffer?, latencyNs: UInt64?, error: String?) {
        inFlight = nil
        session.tally.ended()
        defer { next() }
        if let exclusion = flight.exclusion { return session.tally.add(exclusion) }
        // The record is built here, after the response went out: its cost is never on the response's path.
        if flight.responseTooLarge { return session.tally.add(.oversizedBody) }
        let (requestHeaders, redactedInRequest) = session.policy.redact([HeaderField](flight.request.head.headers))
        let (responseHeaders, redactedInResponse) = session.policy.redact([HeaderField](response.headers))
        if redactedInRequest + redactedInResponse > 0 {
            session.tally.add("redacted_headers", Int64(redactedInRequest + redactedInResponse))
        }
        let exchange = CapturedExchange(
            captureTimeNs: flight.request.wallClockNs, connection: connection, client: peer, server: upstreamLabel,
            request: flight.request.recorded(headers: requestHeaders),
            response: RecordedResponse(
                status: Int(response.status.code), headers: responseHeaders, body: body.map { Array($0.readableBytesView) } ?? []),
            productionLatencyNs: latencyNs.map { Int64($0) }, productionError: error)
        session.tally.record(exchange, to: session.recorder)
    }

    // MARK: Client connection

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError { session.countClientError(error) }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reader.closed(session: session)
        session.tally.add(.clientClosed, Int64(pipelined.count))
        pipelined.removeAll()
        self.context = nil
        context.fireChannelInactive()
    }
}
