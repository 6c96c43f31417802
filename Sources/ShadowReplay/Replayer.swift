import Foundation
import NIOCore
import NIOPosix
import ShadowCore
import ShadowHTTP1
import ShadowStore

/// Raised (by a signal handler) to end a run early: nothing more is sent, what is in flight is
/// answered and stored, and the run can be continued with `--resume`.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    public init() {}
    public func raise() { lock.withLock { raised = true } }
    public var isRaised: Bool { lock.withLock { raised } }
}

/// How a run ended.
public struct ReplayOutcome: Sendable {
    public var run: RunInfo
    public var progress: ReplayProgress
    /// Set when the run stopped early: a stop request, or a target that went down.
    public var stoppedEarly: Bool
    /// How each side's connections were made ready before the clock started.
    public var connections: [SideReadiness] = []
}

/// Replays stored exchanges to every target of a `ReplayConfiguration` and stores what each side
/// answered.
///
/// Threads: a feed thread reads and encodes requests; a dispatcher thread hands each request to an
/// idle lane shortly before it is due; lanes run on the event loops and keep the due time (a timer,
/// then spinning the last stretch), each with one keep-alive connection per side, and write a request to every
/// side back to back in a seeded random order; a recorder thread stores results in batches. Every
/// queue between them is bounded, so memory stays bounded however slow a target is: requests that
/// find no free lane are sent late, and counted.
public struct Replayer: Sendable {
    public let database: ShadowDatabase
    public let configuration: ReplayConfiguration
    let group: EventLoopGroup

    /// Records the store may fall behind before the dispatcher waits (tests make it small).
    let storeBacklog: Int?

    /// Requests a closed loop keeps ready on the board (at least one per lane; beyond that, only
    /// while they hold under the board's byte limit): a lane that finishes takes its next one at
    /// once instead of going idle until the dispatcher thread wakes and hands one over across
    /// threads. With one per lane, lanes ran dry about 11,000 times in a 6 s run against nginx;
    /// with 256, a few hundred times (bench/RESULTS.md).
    static let closedLoopReady = 256

    public init(database: ShadowDatabase, configuration: ReplayConfiguration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.init(database: database, configuration: configuration, group: group, storeBacklog: nil)
    }

    init(database: ShadowDatabase, configuration: ReplayConfiguration, group: EventLoopGroup, storeBacklog: Int?) {
        self.database = database
        self.configuration = configuration
        self.group = group
        self.storeBacklog = storeBacklog
    }

    /// Connects once to every target; throws `ShadowError.targetUnreachable` naming the first
    /// that cannot be reached.
    public func checkTargets() async throws {
        for target in configuration.targets {
            do {
                let channel = try await ClientBootstrap(group: group)
                    .connectTimeout(.milliseconds(Int64(configuration.connectTimeoutMs)))
                    .connect(to: try address(of: target)).get()
                try? await channel.close()
            } catch let error as ShadowError {
                throw error
            } catch {
                throw ShadowError.targetUnreachable(
                    url: target.url, detail: SideConnection.kind(of: error).rawValue.replacingOccurrences(of: "_", with: " "))
            }
        }
    }

    /// Replays into a new run, or continues the run `resuming` (skipping what it already holds).
    /// `onProgress` is called every `progressInterval` seconds with the counts and each side's
    /// latency p99 so far, and once at the end with every figure.
    public func run(
        resuming: RunInfo? = nil, stop: StopFlag = StopFlag(), observer: (any ReplayObserver)? = nil,
        progressInterval: Double = 1, onProgress: @escaping @Sendable (ReplayProgress) -> Void = { _ in }
    ) async throws -> ReplayOutcome {
        let config = configuration
        let run: RunInfo
        if let resuming {
            try database.reopenRun(id: resuming.id)
            run = resuming
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = String(decoding: try encoder.encode(config), as: UTF8.self)
            run = try database.createRun(name: config.run, captureID: config.captureID, config: json)
        }
        let total = try plannedTotal()
        let storedBefore = try resuming.map { try database.replayedCount(runID: $0.id) } ?? 0
        let addresses = try config.targets.map(address(of:))
        let lanes = max(1, config.connections)
        let board = LaneBoard(capacity: config.timing.isOpenLoop ? lanes : max(lanes, Self.closedLoopReady), minimum: lanes)
        let recorder = ResultRecorder(
            database: database, runID: run.id, targets: config.targets, maxFailures: config.maxFailures,
            backlog: storeBacklog ?? max(4096, lanes * 4), lanes: lanes, boardCapacity: board.capacity,
            handOffMost: Dispatcher.handOffMost, observer: observer)
        let feed = RequestFeed(database: database, configuration: config, resumeRunID: resuming?.id)
        let settings = LaneSettings(
            targets: config.targets, addresses: addresses, timeout: .milliseconds(Int64(config.timeoutMs)),
            connectTimeout: .milliseconds(Int64(config.connectTimeoutMs)), maxBodyBytes: config.maxBodyBytes)
        var budgets: [ObjectIdentifier: SpinBudget] = [:]
        let laneList = (0..<lanes).map { _ in
            let loop = group.next()
            let budget = budgets[ObjectIdentifier(loop), default: SpinBudget(loop: loop)]
            budgets[ObjectIdentifier(loop)] = budget
            return Lane(spinBudget: budget, settings: settings, board: board, recorder: recorder)
        }
        board.add(laneList)
        recorder.start(yielding: config.timing.isOpenLoop)
        feed.start(yielding: config.timing.isOpenLoop)
        let first = feed.queue.pop()
        let readiness: [SideReadiness]
        do {
            readiness = try await ConnectionPreparation(configuration: config, recorder: recorder)
                .prepare(laneList, probe: probeRequests(first: first))
        } catch {
            feed.stop()
            for lane in laneList { lane.loop.execute { lane.close() } }
            var counters = (try? recorder.finish()) ?? Counters()
            counters.merge(run.counters)
            try? database.finishRun(id: run.id, counters: counters, status: "failed")
            throw error
        }
        let started = MonotonicClock.now()
        let dispatcher = Dispatcher(
            configuration: config, feed: feed, first: first, board: board, recorder: recorder, stop: stop, started: started)
        let progress: @Sendable (_ detailed: Bool) -> ReplayProgress = { detailed in
            var progress = recorder.progress(
                total: total, elapsedNs: MonotonicClock.now() - started, durationSeconds: config.durationSeconds, detailed: detailed)
            progress.inFlight = board.busy
            progress.committed = storedBefore + progress.done
            return progress
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(progressInterval))
                    if !Task.isCancelled { onProgress(progress(false)) }
                }
            }
            await dispatcher.run()
            group.cancelAll()
        }
        for lane in board.lanes { lane.loop.execute { lane.close() } }
        let counters: Counters
        do {
            var all = try recorder.finish()
            all.merge(feed.skipped)
            if resuming != nil {
                // Counts add up over the sessions of a resumed run; the largest lag is the larger one.
                let lagMax = max(all["send_lag_max_ns"], run.counters["send_lag_max_ns"])
                all.merge(run.counters)
                var values = all.values
                values["send_lag_max_ns"] = lagMax > 0 ? lagMax : nil
                // Each session's feed counts the whole capture's skipped exchanges again.
                for (name, value) in feed.skipped.values where name.hasPrefix("skipped_") { values[name] = value }
                all = Counters(values)
            }
            counters = all
        } catch {
            try? database.finishRun(id: run.id, counters: run.counters, status: "failed")
            throw recorder.abortReason ?? error
        }
        let final = progress(true)
        onProgress(final)
        if let failure = feed.failure {
            try database.finishRun(id: run.id, counters: counters, status: "failed")
            throw failure
        }
        if let reason = recorder.abortReason {
            try database.finishRun(id: run.id, counters: counters, status: "failed")
            throw reason
        }
        try database.finishRun(id: run.id, counters: counters, status: stop.isRaised ? "interrupted" : "complete")
        return ReplayOutcome(
            run: try database.run(named: run.name), progress: final, stoppedEarly: stop.isRaised, connections: readiness)
    }

    /// Each side's probe request (`ReplayConfiguration.probe`), given the run's first request.
    private func probeRequests(first: ReplayItem?) -> [(request: ByteBuffer, kind: HTTP1RequestKind)]? {
        switch configuration.probe ?? .first {
        case .none:
            return nil
        case .first:
            return first.map { item in item.requests.map { ($0, item.kind) } }
        case .request(let method, let path):
            return configuration.targets.map { target in
                var buffer = ByteBufferAllocator().buffer(capacity: 128)
                buffer.writeString("\(method) \(target.pathPrefix)\(path) HTTP/1.1\r\nHost: \(configuration.rewrite.host ?? target.authority)\r\n\r\n")
                return (buffer, method == "HEAD" ? .head : .other)
            }
        }
    }

    /// Requests the run will send when that is known: the limit, or one pass over the selection.
    private func plannedTotal() throws -> Int64? {
        let count = try database.exchangeCount(captureID: configuration.captureID)
        if let limit = configuration.limit { return configuration.loop ? Int64(limit) : min(Int64(limit), count) }
        return configuration.loop ? nil : count
    }

    private func address(of target: ReplayTarget) throws -> SocketAddress {
        do {
            return try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
        } catch {
            throw ShadowError.targetUnreachable(url: target.url, detail: "cannot resolve \(target.host)")
        }
    }
}

/// Keeps the schedule: takes requests from the feed in order, sleeps until `handOffLeadNs` before
/// each is due, and hands it to the board together with those due within `handOffWindowNs` after
/// it; the lane that takes one writes it at its due time. Runs on its own thread; `run()` returns
/// when everything sent has been answered.
final class Dispatcher: @unchecked Sendable {
    /// How long before its due time a request is handed to a lane: more than a loop takes to see
    /// the hand-off, so the due time is kept by the lane's own timer and spin.
    static let handOffLeadNs: Int64 = 2_000_000
    /// Requests due this close after the first of a hand-off go with it: one wake-up of each
    /// event loop for them all, instead of one per request.
    static let handOffWindowNs: Int64 = 5_000_000
    /// Requests handed off together at most.
    static let handOffMost = 32

    private let configuration: ReplayConfiguration
    private let feed: RequestFeed
    /// The feed's first item, taken before the clock started (it proved the connections).
    private var first: ReplayItem?
    private let board: LaneBoard
    private let recorder: ResultRecorder
    private let stop: StopFlag
    private let started: UInt64

    init(
        configuration: ReplayConfiguration, feed: RequestFeed, first: ReplayItem?, board: LaneBoard, recorder: ResultRecorder,
        stop: StopFlag, started: UInt64
    ) {
        self.configuration = configuration
        self.feed = feed
        self.first = first
        self.board = board
        self.recorder = recorder
        self.stop = stop
        self.started = started
    }

    func run() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.startNamed("sd-dispatch") { [self] in
                dispatch()
                continuation.resume()
            }
        }
    }

    private func dispatch() {
        Pacer.prepareThread()
        var schedule = ReplaySchedule(mode: configuration.timing, maxRate: configuration.maxRate)
        let durationNs = configuration.durationSeconds.map { UInt64($0 * 1e9) }
        // Past this, nothing more is sent: what waits on the board was never sent and is dropped.
        // A stopped run's is sent by a resumed run; a closed loop takes its requests as lanes free
        // up, so past its duration it takes none, however many wait for a slow target.
        let closedLoop = !configuration.timing.isOpenLoop
        let stopped = { [stop, recorder, started] in
            stop.isRaised || recorder.abortReason != nil
                || (closedLoop && durationNs.map { MonotonicClock.now() - started >= $0 } ?? false)
        }
        var pass = 0
        var sent = 0
        var storeHeld = false
        var handOff: [ReplayItem] = []
        var handOffDue: Int64 = 0
        func handOver() -> Bool {
            defer { handOff.removeAll(keepingCapacity: true) }
            return handOff.isEmpty || board.dispatch(handOff, unlessStopped: stopped)
        }
        func nextItem() -> ReplayItem? {
            if let item = first.take() { return item }
            if let item = feed.queue.pop(timeout: 0) { return item }
            // What is held must not wait for the feed.
            _ = handOver()
            return feed.queue.pop()
        }
        while let next = nextItem() {
            if stopped() { break }
            var item = next
            let now = MonotonicClock.now()
            if let durationNs, now - started >= durationNs { break }
            if item.pass != pass {
                pass = item.pass
                schedule.startPass()
            }
            if let due = schedule.due(captureTimeNs: item.captureTimeNs, nowNs: Int64(now - started)) {
                if let durationNs, UInt64(due) >= durationNs { break }
                item.scheduledNs = due
                item.dueNs = started + UInt64(due)
                if !handOff.isEmpty && (due - handOffDue > Self.handOffWindowNs || handOff.count == Self.handOffMost) {
                    guard handOver() else { break }
                }
                if handOff.isEmpty {
                    // Long gaps (--speed over a quiet capture) are slept in slices, so a stop is seen.
                    while !stop.isRaised, MonotonicClock.now() + 100_000_000 < started + UInt64(due) {
                        Pacer.sleep(until: MonotonicClock.now() + 50_000_000)
                    }
                    if stop.isRaised { break }
                    Pacer.sleep(until: started + UInt64(max(0, due - Self.handOffLeadNs)))
                    handOffDue = due
                }
            }
            item.warmup = sent < configuration.warmup
            // Held back by the store, the dispatcher sends what fell due meanwhile late: each of
            // those is late for the store, until one goes out on time again (a lane clears the
            // mark of one that still reaches it before its due time).
            if recorder.waitForRoom() {
                storeHeld = true
                for k in handOff.indices { handOff[k].waited = .storeBehind }
            }
            if let due = item.dueNs {
                if MonotonicClock.now() < due { storeHeld = false } else if storeHeld { item.waited = .storeBehind }
            }
            handOff.append(item)
            sent += 1
            if item.dueNs == nil { guard handOver() else { break } }
        }
        if !stopped() { _ = handOver() }
        feed.stop()
        board.drain(stopped: stopped)
    }
}
