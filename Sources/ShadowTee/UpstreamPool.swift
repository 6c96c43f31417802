import NIOCore
import NIOPosix

/// The upstream connections of one event loop: idle ones are reused, at most `maxConnections`
/// are open, and requests beyond that wait in order for one to be released.
///
/// Confined to its event loop: every method must be called on `eventLoop` (the proxy's client
/// connections on that loop do), which is why no locks are needed.
final class UpstreamPool: @unchecked Sendable {
    let eventLoop: EventLoop
    private let configuration: UpstreamConfiguration
    private let tally: TeeTally
    private var idle: [UpstreamConnection] = []
    private var open = 0
    private var waiters = CircularBuffer<(Result<UpstreamConnection, UpstreamFailure>) -> Void>()

    init(eventLoop: EventLoop, configuration: UpstreamConfiguration, tally: TeeTally) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.tally = tally
    }

    /// Hands a connection to `callback`: an idle one, a new one, or the next one released.
    /// `fresh` skips idle connections (a retry after a reused connection failed).
    func acquire(fresh: Bool = false, _ callback: @escaping (Result<UpstreamConnection, UpstreamFailure>) -> Void) {
        eventLoop.preconditionInEventLoop()
        if !fresh {
            while let connection = idle.popLast() {
                if connection.isUsable { return callback(.success(connection)) }
                discard(connection)
            }
        }
        if open < configuration.connectionsPerLoop || fresh {
            connect(callback)
        } else {
            waiters.append(callback)
        }
    }

    /// Takes `connection` back after a complete response; one that cannot carry another request is closed.
    func release(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        guard connection.isUsable else { return discard(connection) }
        if let waiter = waiters.popFirst() {
            waiter(.success(connection))
        } else {
            idle.append(connection)
        }
    }

    /// Closes `connection` (after a failure or timeout); a waiter gets a new one.
    func discard(_ connection: UpstreamConnection) {
        connection.close()
        forget(connection)
    }

    /// Stops counting `connection` as open (it closed, whoever closed it); a waiter gets a new one.
    func forget(_ connection: UpstreamConnection) {
        guard !connection.forgottenByPool else { return }
        connection.forgottenByPool = true
        if let index = idle.firstIndex(where: { $0 === connection }) { idle.remove(at: index) }
        open -= 1
        if let waiter = waiters.popFirst() { connect(waiter) }
    }

    private func connect(_ callback: @escaping (Result<UpstreamConnection, UpstreamFailure>) -> Void) {
        open += 1
        tally.add("upstream_connections")
        let pool = self
        let target = configuration.address
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(pool: pool))
                }
            }
            .connect(host: target.host, port: target.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    do {
                        let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                        callback(.success(connection))
                    } catch {
                        pool.open -= 1
                        callback(.failure(.closed))
                    }
                case .failure(let error):
                    pool.open -= 1
                    if case ChannelError.connectTimeout = error {
                        callback(.failure(.connectTimeout))
                    } else {
                        callback(.failure(.connectRefused("\(target): \(error)")))
                    }
                }
            }
    }

    /// Closes every idle connection (shutdown).
    func closeIdle() {
        eventLoop.preconditionInEventLoop()
        for connection in idle { connection.close() }
    }
}
