import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves `GET /metrics` (Prometheus text exposition format 0.0.4, from `registry.emit(into:)`) over
/// HTTP/1.1 keep-alive on a SwiftNIO server channel of the caller's event loop group.
///
/// Contract: `HEAD /metrics` answers the same headers without a body; any other method on `/metrics`
/// gets 405 (with `Allow`), any other path 404 (the query string is ignored). `stop` closes the listener
/// and every open connection; the group stays the caller's to shut down.
public final class MetricsEndpoint: Sendable {
    /// The bound port (useful with port 0).
    public let port: Int
    private let listener: any Channel
    private let connections: OpenConnections

    /// Binds `host:port` on `group` (which must be a NIOPosix group) and starts serving `registry`.
    public static func start(
        host: String, port: Int, registry: PrometheusCollectorRegistry, group: any EventLoopGroup
    ) async throws(MetricsEndpointError) -> MetricsEndpoint {
        let address = MetricsAddress.format(host: host, port: port)
        guard let bootstrap = ServerBootstrap(validatingGroup: group) else {
            throw .cannotListen(address: address, detail: "the event loop group is not a NIOPosix group")
        }
        let connections = OpenConnections()
        let server = bootstrap
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.add(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(MetricsRequestHandler(registry: registry))
                }
            }
        do {
            let listener = try await server.bind(host: host, port: port).get()
            return MetricsEndpoint(
                port: listener.localAddress?.port ?? port, listener: listener, connections: connections)
        } catch {
            throw .cannotListen(address: address, detail: "\(error)")
        }
    }

    private init(port: Int, listener: any Channel, connections: OpenConnections) {
        self.port = port
        self.listener = listener
        self.connections = connections
    }

    /// Stops accepting, closes every connection (a scrape in progress is cut), and returns once all are closed.
    /// Calling it again does nothing.
    public func stop() async {
        try? await listener.close().get()
        for channel in connections.stop() {
            try? await channel.close().get()
        }
    }
}

/// The endpoint's open connections, so that `stop` can close idle keep-alive ones.
private final class OpenConnections: Sendable {
    private struct State: Sendable {
        var open: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
    }

    private let state = NIOLockedValueBox(State())

    /// Tracks `channel` until it closes; false once stopped (the caller then closes it).
    func add(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let added = state.withLockedValue { state in
            guard !state.stopped else { return false }
            state.open[id] = channel
            return true
        }
        if added {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLockedValue { $0.open.removeValue(forKey: id) }
            }
        }
        return added
    }

    /// Refuses further connections and returns those still open.
    func stop() -> [any Channel] {
        state.withLockedValue { state in
            state.stopped = true
            return Array(state.open.values)
        }
    }
}

/// Answers each request once its end arrives; the HTTP server pipeline before it orders pipelined requests.
private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        var body: [UInt8]
        if request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] != "/metrics" {
            (status, body) = (.notFound, Array("not found: only GET /metrics is served here\n".utf8))
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        } else if request.method != .GET && request.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("method not allowed: use GET\n".utf8))
            headers.add(name: "allow", value: "GET, HEAD")
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        } else {
            status = .ok
            body = []
            body.reserveCapacity(16 * 1024)
            registry.emit(into: &body)
            headers.add(name: "content-type", value: "text/plain; version=0.0.4; charset=utf-8")
        }
        headers.add(name: "content-length", value: String(body.count))
        let keepAlive = request.isKeepAlive
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if request.version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }

        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
