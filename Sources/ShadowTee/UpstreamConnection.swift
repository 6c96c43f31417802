import NIOCore
import NIOHTTP1

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

    /// What the client is told when no response has begun: 504 for timeouts, 502 otherwise.
    var status: HTTPResponseStatus {
        switch self {
        case .connectTimeout, .timeout: .gatewayTimeout
        default: .badGateway
        }
    }

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

/// Receives one upstream response, part by part, on the connection's event loop.
protocol UpstreamResponseDelegate: AnyObject {
    func upstreamHead(_ head: HTTPResponseHead)
    func upstreamBody(_ part: ByteBuffer)
    func upstreamEnd()
    /// The response could not be completed; `reused` says the connection had served earlier requests.
    func upstreamFailed(_ failure: UpstreamFailure, receivedAnything: Bool, reused: Bool)
    /// A read burst ended: a good moment to flush what was forwarded.
    func upstreamReadComplete()
}

/// One keep-alive connection to the upstream, carrying one request at a time.
final class UpstreamConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private unowned let pool: UpstreamPool
    private var context: ChannelHandlerContext?
    private var delegate: UpstreamResponseDelegate?
    private var receivedAnything = false
    private var closing = false
    /// Requests this connection has carried, the current one included.
    private(set) var uses = 0
    /// Whether the last response allows another request on this connection.
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

    /// Writes the request; the response goes to `delegate`.
    func send(_ head: HTTPRequestHead, body: ByteBuffer, to delegate: UpstreamResponseDelegate) {
        guard let context else { return delegate.upstreamFailed(.closed, receivedAnything: false, reused: uses > 0) }
        uses += 1
        self.delegate = delegate
        receivedAnything = false
        keepAlive = head.isKeepAlive
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedAnything = true
        guard let delegate else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if !head.isKeepAlive { keepAlive = false }
            delegate.upstreamHead(head)
        case .body(let part):
            delegate.upstreamBody(part)
        case .end:
            self.delegate = nil
            delegate.upstreamEnd()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parserError = error as? HTTPParserError, parserError != .invalidEOFState {
            fail(.malformed("\(parserError)"))
        } else {
            fail(.closed)
        }
        close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        fail(.closed)
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
