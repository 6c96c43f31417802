import NIOCore
import ShadowCore
import ShadowHTTP1

/// The recording proxy's per-connection handler, after `ClientConnectionHandler` (which reads the
/// requests and bounds the client): forwards each request's bytes unchanged to the
/// upstream through its event loop's `UpstreamPool`, streams the response's bytes back as they
/// arrive, and records the exchange (request, production response, upstream latency in ns) once
/// the response is complete. HTTP is only framed on this path (`HTTP1Framer`); the record is
/// parsed later, when the `TeeStore` expands the spool.
///
/// Contract:
/// - Forwarding never waits on recording: the record is copied into the loop's `RecordSpool`,
///   whose store refuses (counted) rather than blocks.
/// - One request at a time per connection: pipelined requests wait in order (reading pauses
///   while `maxPipelined` wait), so responses go back in request order. Each request ends with
///   `RequestAnswered`, sent outbound.
/// - Upstream failures before the response begins answer 502 (504 for timeouts) and are recorded
///   with `prod_error`; after it begins, the client connection is closed, since its status is gone.
/// - A reused upstream connection that closes before any response byte is retried once on a new
///   connection (the upstream closed an idle keep-alive connection as the request went out).
final class ProxyHandler: ChannelInboundHandler, UpstreamResponseDelegate {
    typealias InboundIn = IncomingRequest
    typealias OutboundOut = ByteBuffer

    /// The request being forwarded and what has come back so far.
    private struct InFlight {
        var request: IncomingRequest
        /// Why it will not be recorded, decided when it was read.
        var exclusion: DropReason?
        var upstream: UpstreamConnection?
        var sentNs: UInt64 = 0
        var retried = false
        var responseHead: ByteBuffer?
        var responseKeepAlive = true
        /// The de-chunked response body, kept while the exchange is to be recorded and fits the limit.
        var responseBody: ByteBuffer?
        var responseTooLarge = false
    }

    private let session: TeeSession
    private let pool: UpstreamPool
    private let spool: RecordSpool
    private let upstreamLabel: String
    private let responseTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var connection: Int64 = 0
    private var peer = "?"
    private var inFlight: InFlight?
    private var pipelined = CircularBuffer<IncomingRequest>()
    private let maxPipelined = 64
    private var timer = LazyDeadlineTimer()

    init(session: TeeSession, pool: UpstreamPool, spool: RecordSpool, upstream: UpstreamConfiguration) {
        self.session = session
        self.pool = pool
        self.spool = spool
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
        let request = unwrapInboundIn(data)
        if inFlight == nil {
            start(request)
        } else {
            pipelined.append(request)
            if pipelined.count >= maxPipelined { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
        }
    }

    private func start(_ request: IncomingRequest) {
        let exclusion = session.policy.exclusion(
            method: request.head.method, target: request.head.target,
            header: { HTTP1Head.value(of: $0, in: request.rawHead) }, connectionKey: peer)
        inFlight = InFlight(request: request, exclusion: exclusion)
        session.tally.began()
        dispatch(fresh: false)
    }

    /// After a response: the next pipelined request.
    private func next() {
        guard let request = pipelined.popFirst() else { return }
        if pipelined.count == maxPipelined - 1 { context?.channel.setOption(.autoRead, value: true).whenComplete { _ in } }
        start(request)
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
        inFlight = flight
        armTimer()
        upstream.send(flight.request, to: self)
    }

    /// When the in-flight request times out, if it has been sent.
    private var responseDeadline: NIODeadline? {
        guard let flight = inFlight, flight.upstream != nil else { return nil }
        return NIODeadline.uptimeNanoseconds(flight.sentNs) + responseTimeout
    }

    private func armTimer() {
        guard let at = responseDeadline else { return }
        timer.arm(at, on: pool.eventLoop) { [self] in
            timer.fired()
            guard let at = responseDeadline else { return }
            if at <= .now() { timedOut() } else { armTimer() }
        }
    }

    // MARK: Upstream response

    func upstreamHead(_ head: HTTP1Head, raw: ByteBuffer) {
        inFlight?.responseHead = raw
        inFlight?.responseKeepAlive = head.keepAlive
        if inFlight?.exclusion == nil { inFlight?.responseBody = ByteBuffer() }
        context?.write(wrapOutboundOut(raw), promise: nil)
    }

    func upstreamBody(_ bytes: ByteBuffer, isPayload: Bool) {
        if isPayload && inFlight?.responseBody != nil {
            if inFlight!.responseBody!.readableBytes + bytes.readableBytes > session.limits.maxBodyBytes {
                inFlight!.responseBody = nil
                inFlight!.responseTooLarge = true
            } else {
                RequestReader.append(bytes, to: &inFlight!.responseBody!)
            }
        }
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamEnd() {
        guard let flight = inFlight, let head = flight.responseHead else { return }
        let latency = TeeClock.monotonicNs() &- flight.sentNs
        if let upstream = flight.upstream { pool.release(upstream) }
        session.tally.add(.responses)
        if let context {
            if flight.request.head.keepAlive && flight.responseKeepAlive {
                context.flush()
            } else {
                // An empty write completes once everything written before it went out.
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
            }
        }
        complete(flight, responseHead: head, body: flight.responseBody, latencyNs: latency, error: nil)
    }

    func upstreamFailed(_ failure: UpstreamFailure, receivedAnything: Bool, reused: Bool) {
        guard var flight = inFlight else { return }
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
        let latency = flight.sentNs == 0 ? nil : TeeClock.monotonicNs() &- flight.sentNs
        if let head = flight.responseHead {
            session.tally.add("upstream_failed_midway")
            context?.close(promise: nil)
            complete(flight, responseHead: head, body: flight.responseBody, latencyNs: latency, error: failure.name)
            return
        }
        session.tally.add(failure.isTimeout ? "upstream_timeouts" : "upstream_errors")
        let close = !flight.request.head.keepAlive
        let response = TeeResponse.make(
            failure.isTimeout ? 504 : 502, failure.isTimeout ? "Gateway Timeout" : "Bad Gateway",
            body: failure.message + "\n", close: close)
        if let context {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(response.bytes)).whenComplete { _ in if close { channel.close(promise: nil) } }
        }
        complete(flight, responseHead: response.head, body: response.body, latencyNs: latency, error: failure.name)
    }

    /// Clears the in-flight request and records it unless it was excluded or too large.
    private func complete(_ flight: InFlight, responseHead: ByteBuffer, body: ByteBuffer?, latencyNs: UInt64?, error: String?) {
        inFlight = nil
        session.tally.ended()
        context?.triggerUserOutboundEvent(RequestAnswered(), promise: nil)
        defer { next() }
        if let exclusion = flight.exclusion { return session.tally.add(exclusion) }
        if flight.responseTooLarge { return session.tally.add(.oversizedBody) }
        spool.append(TeeRecord(
            requestHead: flight.request.rawHead, requestBody: flight.request.payload,
            responseHead: responseHead, responseBody: body ?? ByteBuffer(),
            wallClockNs: flight.request.wallClockNs, connection: connection, client: peer, server: upstreamLabel,
            latencyNs: latencyNs, error: error))
    }

    // MARK: Client connection

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer.cancel()
        session.tally.add(.clientClosed, Int64(pipelined.count))
        pipelined.removeAll()
        self.context = nil
        context.fireChannelInactive()
    }
}
