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
    /// How long before a scheduled request's due time its timer fires; the rest is spun out on
    /// the loop, so the request is written on time instead of a timer wake-up late.
    var spinNs: UInt64 = Pacer.defaultLoopSpinNs
}

/// One slot of concurrency: one keep-alive connection to every side, on one event loop, carrying
/// one request (sent to every side) at a time.
///
/// All state is touched on `loop` only; other threads only call `loop.execute { lane.start(item) }`.
/// A scheduled request handed over before its due time waits for it on the loop (a timer, then a
/// spin of at most `spinNs` within the loop's `SpinBudget`), so the schedule is kept without a
/// cross-thread hop at the due time.
/// A request is written to the sides back to back, in the item's order. When every side has
/// answered or failed, the lane hands the record to the recorder and asks the board for its next
/// item. A kept-alive connection that the server had closed while idle (reset or closed before any
/// response byte) is retried once on a new connection, within the same deadline, so a side gives a
/// request at most the connect timeout plus the request timeout; any other failure is the request's
/// result, and a failed connection is replaced for the next request.
final class Lane: @unchecked Sendable {
    let loop: EventLoop
    private let spinBudget: SpinBudget
    private let settings: LaneSettings
    private let board: LaneBoard
    private let recorder: ResultRecorder
    private var connections: [(channel: Channel, handler: SideConnection)?]
    private var current: ReplayItem?
    private var intendedNs: UInt64 = 0
    private var outcomes: [SideOutcome]
    private var remaining = 0
    private var starting = false

    /// `spinBudget` is shared by the lanes on its loop, which the lane runs on.
    init(spinBudget: SpinBudget, settings: LaneSettings, board: LaneBoard, recorder: ResultRecorder) {
        loop = spinBudget.loop
        self.spinBudget = spinBudget
        self.settings = settings
        self.board = board
        self.recorder = recorder
        connections = Array(repeating: nil, count: settings.targets.count)
        outcomes = Array(repeating: SideOutcome(), count: settings.targets.count)
    }

    /// Sends `item` to every side at its due time (at once when it has none or it has passed). On
    /// `loop`, when the lane is idle.
    func start(_ item: ReplayItem) {
        current = item
        guard let due = item.dueNs else {
            intendedNs = MonotonicClock.now()
            return sendCurrent()
        }
        intendedNs = due
        let now = MonotonicClock.now()
        // It waited for a lane or for the store, yet is here before its due time: not late.
        if item.waited != nil && now < due { current?.waited = nil }
        if due > now + settings.spinNs {
            loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(due - settings.spinNs - now))) { [self] in
                send(at: due)
            }
        } else {
            send(at: due)
        }
    }

    /// Sends the current request at `due`: spun out when the loop's spin budget allows, else at a
    /// timer for `due` (the loop keeps serving its connections meanwhile).
    private func send(at due: UInt64) {
        if spinBudget.spin(until: due) { return sendCurrent() }
        let wait = Int64(due) - Int64(MonotonicClock.now())
        loop.assumeIsolated().scheduleTask(in: .nanoseconds(max(0, wait))) { [self] in sendCurrent() }
    }

    private func sendCurrent() {
        guard let order = current?.order else { return }
        remaining = settings.targets.count
        starting = true
        for side in order { send(side, retry: true, deadline: nil) }
        starting = false
        // Every side failed at once (refused on connect): finish on a fresh stack, not recursively.
        if remaining == 0 { loop.execute { self.finish() } }
    }

    /// Closes every connection. On `loop`, when the lane is idle.
    func close() {
        for connection in connections { connection?.channel.close(promise: nil) }
        connections = Array(repeating: nil, count: settings.targets.count)
    }

    /// Writes the current request to `side`; `deadline` (set on a retry) is the first write's.
    private func send(_ side: Int, retry: Bool, deadline: NIODeadline?) {
        guard let request = current?.requests[side], let kind = current?.kind else { return }
        if let handler = connections[side]?.handler, handler.isReusable {
            let deadline = deadline ?? .now() + settings.timeout
            handler.begin(request, kind: kind, maxBodyBytes: settings.maxBodyBytes, deadline: deadline) { [self] outcome in
                // No response byte before the reset or close: the server had closed the kept-alive connection.
                if retry && outcome.firstByteNs == nil && (outcome.error == .connectionReset || outcome.error == .incompleteResponse) {
                    connections[side] = nil
                    send(side, retry: false, deadline: deadline)
                } else {
                    complete(side, outcome)
                }
            }
            return
        }
        connections[side] = nil
        let handler = SideConnection()
        let connecting = MonotonicClock.now()
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
                    send(side, retry: false, deadline: deadline)
                case .failure(let error):
                    complete(side, SideOutcome(
                        sentNs: MonotonicClock.now(), error: SideConnection.kind(of: error),
                        message: "\(settings.targets[side].url): cannot connect: \(error) (\(SideOutcome.milliseconds(since: connecting)) ms after the connect began)"))
                }
            }
    }

    private func complete(_ side: Int, _ outcome: SideOutcome) {
        outcomes[side] = outcome
        remaining -= 1
        if remaining == 0 && !starting { finish() }
    }

    private func finish() {
        guard let item = current.take() else { return }
        recorder.submit(ReplayRecord(item: item, intendedNs: intendedNs, outcomes: outcomes))
        if let next = board.laneFinished(self) { start(next) }
    }
}
