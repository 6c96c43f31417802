import NIOCore
import NIOPosix
import ShadowCore
import ShadowHTTP1

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
/// answered or failed, the lane hands the record to the recorder, sets up again (off any
/// request's clock) the connections that were closed or failed, and only then asks the board for
/// its next item; a connection the target closes while the lane is idle is set up again at once.
/// A request that still finds a side without a connection (the set-up failed, or is still in
/// flight) waits for one on its own clock and is marked `reconnect` for that side. A kept-alive
/// connection that the server had closed unseen (reset or closed before any response byte) is
/// retried once on a new connection, within the same deadline, also marked `reconnect`; any other
/// failure is the request's result.
final class Lane: @unchecked Sendable {
    let loop: EventLoop
    private let spinBudget: SpinBudget
    private let settings: LaneSettings
    private let board: LaneBoard
    private let recorder: ResultRecorder
    private var links: [Link]
    private var current: ReplayItem?
    private var intendedNs: UInt64 = 0
    private var outcomes: [SideOutcome]
    private var remaining = 0
    private var starting = false
    private var closed = false

    /// One side's connection.
    private enum Link {
        case none
        /// A connect in flight, and who waits for it (true: connected).
        case connecting([(Bool) -> Void])
        case ready(Channel, SideConnection)
    }

    /// `spinBudget` is shared by the lanes on its loop, which the lane runs on.
    init(spinBudget: SpinBudget, settings: LaneSettings, board: LaneBoard, recorder: ResultRecorder) {
        loop = spinBudget.loop
        self.spinBudget = spinBudget
        self.settings = settings
        self.board = board
        self.recorder = recorder
        links = Array(repeating: .none, count: settings.targets.count)
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
        for side in order {
            outcomes[side] = SideOutcome()
            send(side, retry: true, deadline: nil)
        }
        starting = false
        // Every side failed at once (refused on connect): finish on a fresh stack, not recursively.
        if remaining == 0 { loop.execute { self.finish() } }
    }

    /// Closes every connection for good. On `loop`, when the lane is idle.
    func close() {
        closed = true
        for link in links {
            if case .ready(let channel, _) = link { channel.close(promise: nil) }
        }
        links = Array(repeating: .none, count: settings.targets.count)
    }

    /// Writes the current request to `side`; `deadline` (set on a retry) is the first write's.
    private func send(_ side: Int, retry: Bool, deadline: NIODeadline?) {
        guard let request = current?.requests[side], let kind = current?.kind else { return }
        switch links[side] {
        case .ready(_, let handler) where handler.isReusable:
            let deadline = deadline ?? .now() + settings.timeout
            handler.begin(request, kind: kind, maxBodyBytes: settings.maxBodyBytes, deadline: deadline) { [self] outcome in
                // No response byte before the reset or close: the server had closed the kept-alive connection.
                if retry && outcome.firstByteNs == nil && (outcome.error == .connectionReset || outcome.error == .incompleteResponse) {
                    links[side] = .none
                    outcomes[side].reconnected = true
                    send(side, retry: false, deadline: deadline)
                } else {
                    complete(side, outcome)
                }
            }
        default:
            // No usable connection: this request waits for one on its own clock.
            outcomes[side].reconnected = true
            let connecting = MonotonicClock.now()
            connect(side) { [self] connected in
                if connected {
                    send(side, retry: false, deadline: deadline)
                } else {
                    complete(side, SideOutcome(
                        sentNs: MonotonicClock.now(), error: lastConnectError[side]?.kind ?? .connectionRefused,
                        message: "\(settings.targets[side].url): cannot connect: \(lastConnectError[side]?.text ?? "failed") "
                            + "(\(SideOutcome.milliseconds(since: connecting)) ms after the connect began)"))
                }
            }
        }
    }

    /// Why the latest connect to each side failed, for the request that waited for it.
    private var lastConnectError: [Int: (kind: ReplayErrorKind, text: String)] = [:]

    /// Connects `side` unless a connection is usable or being made; `done(true)` once one is ready.
    /// `timeout` defaults to the connect timeout; `onConnected` sees the channel first (the
    /// preparation reads its TCP state there).
    private func connect(
        _ side: Int, timeout: TimeAmount? = nil, onConnected: ((Channel) -> Void)? = nil, done: @escaping (Bool) -> Void
    ) {
        switch links[side] {
        case .ready(_, let handler) where handler.isReusable:
            return done(true)
        case .connecting(var waiters):
            waiters.append(done)
            links[side] = .connecting(waiters)
            return
        case .ready(let channel, _):
            channel.close(promise: nil)
        case .none:
            break
        }
        links[side] = .connecting([done])
        let handler = SideConnection()
        handler.onClose = { [weak self] in self?.closedWhileIdle(side, handler) }
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(timeout ?? settings.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(to: settings.addresses[side])
            .assumeIsolated()
            .whenComplete { [self] result in
                guard case .connecting(let waiters) = links[side] else { return }
                switch result {
                case .success(let channel):
                    if closed {
                        channel.close(promise: nil)
                        links[side] = .none
                    } else {
                        links[side] = .ready(channel, handler)
                        onConnected?(channel)
                    }
                case .failure(let error):
                    links[side] = .none
                    recorder.count("connect_failed_\(settings.targets[side].side.rawValue)")
                    let kind = SideConnection.kind(of: error)
                    lastConnectError[side] = (kind, kind == .other ? "\(error)" : kind.rawValue.replacingOccurrences(of: "_", with: " "))
                }
                let connected = if case .ready = links[side] { true } else { false }
                for waiter in waiters { waiter(connected) }
            }
    }

    /// A connection of this lane closed. While the lane is idle (and the run goes on) it is set up
    /// again at once, so that the next request does not wait for it.
    private func closedWhileIdle(_ side: Int, _ handler: SideConnection) {
        guard case .ready(_, let held) = links[side], held === handler else { return }
        links[side] = .none
        guard !closed, current == nil, preparing == 0 else { return }
        recorder.count("reconnect_idle_\(settings.targets[side].side.rawValue)")
        connect(side) { _ in }
    }

    /// Sets up again every side whose connection is gone; `done` once each has one or failed.
    private func reconnectMissing(_ done: @escaping () -> Void) {
        var waiting = 1
        let one = { waiting -= 1; if waiting == 0 { done() } }
        for side in links.indices {
            if case .ready(_, let handler) = links[side], handler.isReusable { continue }
            waiting += 1
            recorder.count("reconnect_between_\(settings.targets[side].side.rawValue)")
            connect(side) { _ in one() }
        }
        one()
    }

    private func complete(_ side: Int, _ outcome: SideOutcome) {
        let reconnected = outcomes[side].reconnected
        outcomes[side] = outcome
        outcomes[side].reconnected = reconnected
        remaining -= 1
        if remaining == 0 && !starting { finish() }
    }

    private func finish() {
        guard let item = current.take() else { return }
        recorder.submit(ReplayRecord(item: item, intendedNs: intendedNs, outcomes: outcomes))
        reconnectMissing { [self] in
            if let next = board.laneFinished(self) { start(next) }
        }
    }

    // MARK: Before the clock starts

    /// Sides being prepared now.
    private var preparing = 0

    /// Connects `side` before the run's clock starts: up to `attempts` attempts, each bounded by
    /// `attemptTimeout` (long enough for SYN retransmissions, which a target whose listen backlog
    /// overflowed needs). On `loop`; `done` once, on `loop`.
    func connectBeforeClock(side: Int, attempts: Int, attemptTimeout: TimeAmount, done: @escaping (LanePreparation) -> Void) {
        preparing += 1
        var report = LanePreparation()
        func attempt(_ n: Int) {
            let began = MonotonicClock.now()
            connect(side, timeout: attemptTimeout, onConnected: { [self] channel in
                if MonotonicClock.now() - began > UInt64(settings.connectTimeout.nanoseconds) { report.slow = true }
                Self.synRetransmitted(channel).assumeIsolated().whenSuccess { if $0 { report.slow = true } }
            }) { [self] connected in
                if connected || n >= attempts {
                    if !connected { report.lastError = "cannot connect: \(lastConnectError[side]?.text ?? "failed")" }
                    return finishPreparing(side, report, done)
                }
                report.failedAttempts += 1
                loop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { attempt(n + 1) }
            }
        }
        attempt(1)
    }

    /// Sends `probe` on `side`'s connection before the run's clock starts; its answer is not
    /// recorded. Proves that the target accepted and serves the connection. A failed probe gets a
    /// new connection and is sent again, up to `attempts` times; a target that closes the
    /// connection after answering gets a fresh one (it does not keep connections alive). On
    /// `loop`; `done` once, on `loop`.
    func proveBeforeClock(
        side: Int, probe: ByteBuffer, kind: HTTP1RequestKind, attempts: Int, attemptTimeout: TimeAmount,
        done: @escaping (LanePreparation) -> Void
    ) {
        preparing += 1
        var report = LanePreparation()
        func attempt(_ n: Int) {
            connect(side, timeout: attemptTimeout) { [self] connected in
                guard connected, case .ready(_, let handler) = links[side] else {
                    report.lastError = "cannot connect: \(lastConnectError[side]?.text ?? "failed")"
                    return finishPreparing(side, report, done)
                }
                handler.begin(probe, kind: kind, maxBodyBytes: settings.maxBodyBytes, deadline: .now() + settings.timeout) { [self] outcome in
                    if let error = outcome.error {
                        report.failedProbes += 1
                        report.lastError = "the probe request failed: \(error.rawValue): \(outcome.message ?? "")"
                        if case .ready(let channel, _) = links[side] { channel.close(promise: nil) }
                        links[side] = .none
                        return n < attempts ? attempt(n + 1) : finishPreparing(side, report, done)
                    }
                    report.proven = true
                    if handler.isReusable { return finishPreparing(side, report, done) }
                    report.closesConnections = true
                    links[side] = .none
                    connect(side, timeout: attemptTimeout) { [self] _ in finishPreparing(side, report, done) }
                }
            }
        }
        attempt(1)
    }

    private func finishPreparing(_ side: Int, _ report: LanePreparation, _ done: (LanePreparation) -> Void) {
        var report = report
        if case .ready(_, let handler) = links[side] { report.ready = handler.isReusable }
        preparing -= 1
        done(report)
    }

    /// Whether the connection's SYN was sent more than once (TCP_INFO's total retransmissions,
    /// read right after the handshake).
    private static func synRetransmitted(_ channel: Channel) -> EventLoopFuture<Bool> {
        #if os(Linux)
        guard let provider = channel as? SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(false) }
        return provider.getTCPInfo().map { $0.tcpi_total_retrans > 0 }.recover { _ in false }
        #else
        return channel.eventLoop.makeSucceededFuture(false)
        #endif
    }
}

/// How one lane's connection to one side was made ready before the clock started.
struct LanePreparation: Sendable {
    /// The connection is up (and proven, when a probe was sent).
    var ready = false
    /// It needed SYN retransmissions, or took longer than the connect timeout.
    var slow = false
    var failedAttempts = 0
    var failedProbes = 0
    /// The probe was answered.
    var proven = false
    /// The target closed the connection after answering the probe.
    var closesConnections = false
    var lastError: String?
}
