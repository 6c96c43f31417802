import NIOCore
import NIOPosix
import ShadowCore

/// How a lane talks to the targets.
struct LaneSettings: Sendable {
    var targets: [ReplayTarget]
    var addresses: [SocketAddress]
    var timeout: TimeAmount
    var connectTimeout: TimeAmount
    var maxBodyBytes: Int
}

/// One slot of concurrency: one keep-alive connection to every side, on one event loop, carrying
/// one request (sent to every side) at a time.
///
/// All state is touched on `loop` only; other threads only call `loop.execute { lane.start(item) }`.
/// A request is written to the sides back to back, in the item's order. When every side has
/// answered or failed, the lane hands the record to the recorder and asks the board for its next
/// item. A kept-alive connection that the server had closed while idle is retried once on a new
/// connection; any other failure is the request's result.
final class Lane: @unchecked Sendable {
    let loop: EventLoop
    private let settings: LaneSettings
    private let board: LaneBoard
    private let recorder: ResultRecorder
    private var connections: [(channel: Channel, handler: SideConnection)?]
    private var current: ReplayItem?
    private var intendedNs: UInt64 = 0
    private var outcomes: [SideOutcome]
    private var remaining = 0
    private var starting = false

    init(loop: EventLoop, settings: LaneSettings, board: LaneBoard, recorder: ResultRecorder) {
        self.loop = loop
        self.settings = settings
        self.board = board
        self.recorder = recorder
        connections = Array(repeating: nil, count: settings.targets.count)
        outcomes = Array(repeating: SideOutcome(), count: settings.targets.count)
    }

    /// Sends `item` to every side. On `loop`, when the lane is idle.
    func start(_ item: ReplayItem) {
        current = item
        intendedNs = item.dueNs ?? MonotonicClock.now()
        remaining = settings.targets.count
        starting = true
        for side in item.order { send(side, retry: true) }
        starting = false
        // Every side failed at once (refused on connect): finish on a fresh stack, not recursively.
        if remaining == 0 { loop.execute { self.finish() } }
    }

    /// Closes every connection. On `loop`, when the lane is idle.
    func close() {
        for connection in connections { connection?.channel.close(promise: nil) }
        connections = Array(repeating: nil, count: settings.targets.count)
    }

    private func send(_ side: Int, retry: Bool) {
        guard let item = current else { return }
        if let connection = connections[side], connection.handler.isReusable {
            connection.handler.begin(
                item.requests[side], kind: item.kind, maxBodyBytes: settings.maxBodyBytes, timeout: settings.timeout
            ) { [self] outcome in
                // No response byte before the reset: the server had closed the kept-alive connection.
                if retry && outcome.error == .connectionReset && outcome.firstByteNs == nil {
                    connections[side] = nil
                    send(side, retry: false)
                } else {
                    complete(side, outcome)
                }
            }
            return
        }
        connections[side] = nil
        let handler = SideConnection()
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(settings.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(to: settings.addresses[side])
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    connections[side] = (channel, handler)
                    send(side, retry: false)
                case .failure(let error):
                    complete(side, SideOutcome(
                        sentNs: MonotonicClock.now(), error: SideConnection.kind(of: error),
                        message: "\(settings.targets[side].url): cannot connect: \(error)"))
                }
            }
    }

    private func complete(_ side: Int, _ outcome: SideOutcome) {
        outcomes[side] = outcome
        remaining -= 1
        if remaining == 0 && !starting { finish() }
    }

    private func finish() {
        guard let item = current else { return }
        current = nil
        recorder.submit(ReplayRecord(item: item, intendedNs: intendedNs, outcomes: outcomes))
        if let next = board.laneFinished(self) { start(next) }
    }
}
