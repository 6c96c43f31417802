import Foundation
import NIOCore
import NIOExtras
import NIOPosix

/// What a tee server does with the requests it receives.
public enum TeeMode: Sendable {
    /// Forward to production and record the exchange (`capture proxy`).
    case proxy(UpstreamConfiguration)
    /// Answer 204 and record the request (`capture mirror`); the target comes from this header when present.
    case mirror(originalURIHeader: String?)
}

/// A listening tee: the recording proxy or the mirror sink, on its own event loops.
///
/// Contract: `start` binds (throwing a one-line error when it cannot); `shutdown` stops accepting,
/// lets in-flight requests finish (closing idle keep-alive connections at once), waits at most
/// `drainTimeout`, and returns once every connection is closed and nothing more will be recorded.
public final class TeeServer: @unchecked Sendable {
    public let tally: TeeTally
    /// The bound address (with the real port when port 0 was asked for).
    public let boundAddress: SocketAddressText
    private let group: MultiThreadedEventLoopGroup
    /// Released right after the drain, while the event loops still run (its deinit needs one).
    private var quiescing: ServerQuiescingHelper?
    private let lock = NSLock()
    private let pools: [UpstreamPool]
    private let spools: [RecordSpool]

    /// Binds `listen` and starts serving with `threads` event loops.
    public static func start(
        mode: TeeMode, listen: SocketAddressText, threads: Int, policy: RecordingPolicy, limits: TeeLimits,
        store: TeeStore, tally: TeeTally
    ) throws -> TeeServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        var loops: [ObjectIdentifier: LoopParts] = [:]
        for loop in group.makeIterator() {
            var pool: UpstreamPool?
            if case .proxy(let upstream) = mode { pool = UpstreamPool(eventLoop: loop, configuration: upstream, tally: tally) }
            let spool = RecordSpool(eventLoop: loop, store: store, tally: tally, policy: policy)
            try? loop.submit { spool.start() }.wait()
            loops[ObjectIdentifier(loop)] = LoopParts(pool: pool, spool: spool)
        }
        let session = TeeSession(policy: policy, limits: limits, tally: tally, listenLabel: listen.description)
        let channel: Channel
        let quiescing: ServerQuiescingHelper
        do {
            (channel, quiescing) = try bind(listen, group: group, mode: mode, session: session, loops: loops)
        } catch {
            // The bootstrap and its quiescing helper are gone by now: their deinit needs the loops.
            try? group.syncShutdownGracefully()
            throw TeeError.cannotListen(address: listen.description, detail: "\(error)")
        }
        let port = channel.localAddress?.port ?? listen.port
        return TeeServer(
            tally: tally, boundAddress: SocketAddressText(host: listen.host, port: port), group: group,
            quiescing: quiescing, pools: loops.values.compactMap(\.pool), spools: loops.values.map(\.spool))
    }

    /// What each event loop has of its own.
    private struct LoopParts {
        var pool: UpstreamPool?
        var spool: RecordSpool
    }

    /// Binds the server channel; everything it built is released when it throws.
    private static func bind(
        _ listen: SocketAddressText, group: MultiThreadedEventLoopGroup, mode: TeeMode, session: TeeSession,
        loops: [ObjectIdentifier: LoopParts]
    ) throws -> (Channel, ServerQuiescingHelper) {
        let quiescing = ServerQuiescingHelper(group: group)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    let parts = loops[ObjectIdentifier(channel.eventLoop)]!
                    try sync.addHandler(ClientConnectionHandler(session: session))
                    switch mode {
                    case .proxy(let upstream):
                        try sync.addHandler(ProxyHandler(session: session, pool: parts.pool!, spool: parts.spool, upstream: upstream))
                    case .mirror(let header):
                        try sync.addHandler(MirrorSinkHandler(session: session, spool: parts.spool, originalURIHeader: header))
                    }
                }
            }
        return (try bootstrap.bind(host: listen.host, port: listen.port).wait(), quiescing)
    }

    private init(
        tally: TeeTally, boundAddress: SocketAddressText, group: MultiThreadedEventLoopGroup,
        quiescing: ServerQuiescingHelper, pools: [UpstreamPool], spools: [RecordSpool]
    ) {
        self.tally = tally
        self.boundAddress = boundAddress
        self.group = group
        self.quiescing = quiescing
        self.pools = pools
        self.spools = spools
    }

    /// Stops accepting, drains in-flight requests for at most `drainTimeout` seconds, hands every
    /// spooled record to the store, then closes everything; requests still in flight when the drain
    /// gave up are counted `abandoned_at_shutdown`.
    /// Blocks: call it from a thread that is not one of the server's event loops.
    public func shutdown(drainTimeout: Double) {
        drain(timeout: drainTimeout)
        for pool in pools {
            try? pool.eventLoop.submit { pool.closeIdle() }.wait()
        }
        for spool in spools {
            try? spool.eventLoop.submit { spool.stop() }.wait()
        }
        try? group.syncShutdownGracefully()
    }
}

extension TeeServer {
    private func drain(timeout: Double) {
        let helper = lock.withLock {
            defer { quiescing = nil }
            return quiescing
        }
        guard let helper else { return }
        let drained = group.next().makePromise(of: Void.self)
        helper.initiateShutdown(promise: drained)
        let done = DispatchSemaphore(value: 0)
        drained.futureResult.whenComplete { _ in done.signal() }
        if done.wait(timeout: .now() + timeout) == .timedOut {
            tally.add("abandoned_at_shutdown", Int64(tally.inFlight))
        }
    }
}

/// Errors starting a tee.
public enum TeeError: Error, CustomStringConvertible, Sendable {
    case cannotListen(address: String, detail: String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let detail): "cannot listen on \(address): \(detail)"
        }
    }
}
