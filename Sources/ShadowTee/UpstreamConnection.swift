import NIOCore
import ShadowHTTP1

/// Why a request could not get a complete response from the upstream.
enum UpstreamFailure: Error, Equatable {
    case connectRefused(String)
    case connectTimeout
    /// Closed or reset before the response was complete.
    case closed
    /// Bytes that do not parse as an HTTP/1.1 response.
    case malformed(String)
    case timeout

    /// The stored `prod_error`.
    var name: String {
        switch self {
        case .connectRefused: "upstream_refused"
        case .connectTimeout: "upstream_connect_timeout"
        case .closed: "upstream_closed"
        case .malformed: "upstream_malformed"
        case .timeout: "upstream_timeout"
        }
    }

    /// Answered 504 when no response has begun (else 502).
    var isTimeout: Bool { self == .connectTimeout || self == .timeout }

    var message: String {
        switch self {
        case .connectRefused(let detail): "upstream refused the connection: \(detail)"
        case .connectTimeout: "upstream did not accept the connection in time"
        case .closed: "upstream closed the connection before its response was complete"
        case .malformed(let detail): "upstream sent an invalid HTTP response: \(detail)"
        case .timeout: "upstream did not answer in time"
        }
    }
}

/// Receives one upstream response, in order, on the connection's event loop.
protocol UpstreamResponseDelegate: AnyObject {
    func upstreamHead(_ head: HTTP1Head, raw: ByteBuffer)
    /// Body bytes as received: payload, or chunk framing (`isPayload` false).
    func upstreamBody(_ bytes: ByteBuffer, isPayload: Bool)
    func upstreamEnd()
    /// The response could not be completed; `reused` says the connection had served earlier requests.
    func upstreamFailed(_ failure: UpstreamFailure, receivedAnything: Bool, reused: Bool)
    /// A read burst ended: a good moment to flush what was forwarded.
    func upstreamReadComplete()
}

/// One keep-alive connection to the upstream, carrying one request at a time: the request's bytes
/// go out unchanged, the response is framed (not decoded) and handed on part by part. Interim 1xx
/// responses are not passed on (the tee answers `Expect: 100-continue` itself).
final class UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Upstream response heads may be larger than what clients are allowed.
    static let maxResponseHeadBytes = 256 << 10

    private unowned let pool: UpstreamPool
    private var context: ChannelHandlerContext?
    private var delegate: UpstreamResponseDelegate?
    private var framer = HTTP1Framer(isRequest: false, maxHeadBytes: UpstreamConnection.maxResponseHeadBytes)
    private var interim = false
    private var receivedAnything = false
    private var closing = false
    /// Requests this connection has carried, the current one included.
    private(set) var uses = 0
    /// Whether the connection may carry another request after the current one.
    private(set) var keepAlive = true
    /// Set by the pool once it no longer counts this connection as open.
    var forgottenByPool = false

    init(pool: UpstreamPool) {
        self.pool = pool
    }

    var isUsable: Bool { !closing && (context?.channel.isActive ?? false) && keepAlive }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Writes the request's bytes; the response goes to `delegate`.
    func send(_ request: IncomingRequest, to delegate: UpstreamResponseDelegate) {
        guard let context else { return delegate.upstreamFailed(.closed, receivedAnything: false, reused: uses > 0) }
        uses += 1
        self.delegate = delegate
        receivedAnything = false
        keepAlive = request.head.keepAlive
        framer.answering = HTTP1RequestKind(method: request.head.method)
        context.write(wrapOutboundOut(request.rawHead), promise: nil)
        if request.rawBody.readableBytes > 0 { context.write(wrapOutboundOut(request.rawBody), promise: nil) }
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedAnything = true
        guard let delegate else {
            // Bytes nobody asked for: this connection cannot be trusted with another request.
            keepAlive = false
            return close()
        }
        var input = unwrapInboundIn(data)
        do {
            while let event = try framer.next(&input) {
                switch event {
                case .head(let head, let raw):
                    if head.status < 200 && head.status != 101 {
                        interim = true
                        continue
                    }
                    if !head.keepAlive { keepAlive = false }
                    delegate.upstreamHead(head, raw: raw)
                case .data(let bytes):
                    if !interim { delegate.upstreamBody(bytes, isPayload: true) }
                case .framing(let bytes):
                    if !interim { delegate.upstreamBody(bytes, isPayload: false) }
                case .end:
                    if interim {
                        interim = false
                        continue
                    }
                    if input.readableBytes > 0 { keepAlive = false }
                    self.delegate = nil
                    return delegate.upstreamEnd()
                }
            }
        } catch {
            fail(.malformed(error.description))
            close()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(.closed)
        close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        if framer.finish() == .endOfBody, let delegate, !interim {
            self.delegate = nil
            delegate.upstreamEnd()
        } else {
            fail(.closed)
        }
        pool.forget(self)
        self.context = nil
    }

    /// Gives up the current response (timeout); the connection is closed, never reused.
    func abandon() {
        delegate = nil
        close()
    }

    func close() {
        guard !closing else { return }
        closing = true
        context?.close(promise: nil)
    }

    private func fail(_ failure: UpstreamFailure) {
        guard let delegate else { return }
        self.delegate = nil
        delegate.upstreamFailed(failure, receivedAnything: receivedAnything, reused: uses > 1)
    }
}
