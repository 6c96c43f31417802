import Foundation
import Histogram
import NIOCore
import ShadowCore
import ShadowStore

/// Sees every stored result, on the recorder's thread: live metrics hang here.
public protocol ReplayObserver: Sendable {
    func recorded(side: Side, status: Int?, error: ReplayErrorKind?, latencyNs: Int64?, serviceNs: Int64?)
    func sent(lagNs: Int64, late: Bool)
}

/// One side's figures so far (warm-up excluded).
public struct SideFigures: Sendable {
    public var side: Side
    public var sent: Int64 = 0
    public var responses: Int64 = 0
    public var errors: [ReplayErrorKind: Int64] = [:]
    /// Requests whose connection to this side was set up on their own clock (`reconnect`).
    public var reconnects: Int64 = 0
    /// Intended send time → last byte (no coordinated omission), ns.
    public var latency: LatencyFigures
    /// Actual write → last byte, ns.
    public var service: LatencyFigures
}

/// Percentiles from an HdrHistogram (3 significant digits); nil without samples.
public struct LatencyFigures: Sendable {
    public var count: UInt64
    public var p50: UInt64?
    public var p90: UInt64?
    public var p99: UInt64?
    public var p999: UInt64?
    public var max: UInt64?
}

/// Where a run stands: what the progress line and the final summary show.
public struct ReplayProgress: Sendable {
    /// Requests answered and stored in this session (a resumed run's earlier sessions not included).
    public var done: Int64
    /// Requests of the run durably stored, each with every side's result, earlier sessions included.
    public var committed: Int64 = 0
    /// Requests the run will send, when known (a limit, or one pass over the capture).
    public var total: Int64?
    public var elapsedNs: UInt64
    /// Seconds the run is limited to, when it is.
    public var durationSeconds: Double?
    /// Requests sent and not yet answered by every side.
    public var inFlight = 0
    public var sides: [SideFigures]
    /// Requests sent late because no lane or no room in the store was free at their due time.
    public var late: Int64
    /// Of `late`, those held up by the store (the rest found no free lane).
    public var lateStoreBehind: Int64 = 0
    public var lag: LatencyFigures
}

/// Stores replay records in batches on its own thread and keeps the run's figures.
///
/// Contract: `submit` never blocks (event loops call it); the dispatcher calls `waitForRoom` before
/// it takes each request into a hand-over of at most `handOffMost`, so the queue holds at most
/// `backlog` records plus one per lane (in flight), one per request the board can hold (handed
/// over, waiting for a lane) and one per request of the hand-over checked last. Each record's
/// sides are written in one transaction. A side failing `maxFailures` requests in a row sets `abortReason`;
/// so does a store failure, whose records are counted (`result_store_failed`) and the run ends.
final class ResultRecorder: @unchecked Sendable {
    private let database: ShadowDatabase
    private let runID: Int64
    private let targets: [ReplayTarget]
    private let maxFailures: Int
    private let observer: (any ReplayObserver)?
    private let queue: BoundedQueue<ReplayRecord>
    private let backlog: Int
    private let lock = NSLock()
    private var stats: [SideStats]
    private var done: Int64 = 0
    private var late: Int64 = 0
    private var lateStoreBehind: Int64 = 0
    private var lag = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    private var counters = Counters()
    private var failure: (any Error)?
    /// Why the run must end, if it must. Behind a lock of its own: the dispatcher reads it before
    /// every hand-over and must not wait while `lock` is held to compute the figures.
    var abortReason: ShadowError? { abortLock.withLock { abort } }
    private let abortLock = NSLock()
    private var abort: ShadowError?
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)

    private struct SideStats {
        var figures: SideFigures
        var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        var service = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        var failuresInARow = 0
        var warmup: Int64 = 0
    }

    init(database: ShadowDatabase, runID: Int64, targets: [ReplayTarget], maxFailures: Int, backlog: Int, lanes: Int,
         boardCapacity: Int, handOffMost: Int, observer: (any ReplayObserver)?) {
        self.database = database
        self.runID = runID
        self.targets = targets
        self.maxFailures = maxFailures
        self.observer = observer
        self.backlog = backlog
        queue = BoundedQueue(capacity: backlog + lanes + boardCapacity + handOffMost)
        stats = targets.map { target in
            SideStats(figures: SideFigures(side: target.side, latency: LatencyFigures(count: 0), service: LatencyFigures(count: 0)))
        }
    }

    /// Starts the storing thread; `yielding` lowers its priority (open loops: the event loops keep
    /// the schedule, and a batch may wait).
    func start(yielding: Bool = false) {
        thread = Thread.startNamed("sd-results") { [self] in
            if yielding { Pacer.yieldToOthers() }
            run()
            stopped.signal()
        }
    }

    /// Queues a record; never blocks. A record that finds the queue full (impossible while the
    /// dispatcher respects `waitForRoom`) is counted as `result_queue_full`, not stored.
    func submit(_ record: ReplayRecord) {
        if !queue.offer(record) {
            lock.withLock { counters.add("result_queue_full") }
        }
    }

    /// Adds one to the run's counter `name`.
    func count(_ name: String, _ n: Int64 = 1) {
        lock.withLock { counters.add(name, n) }
    }

    /// Waits while the store is `backlog` records behind; true when it had to wait.
    func waitForRoom() -> Bool {
        var waited = false
        while queue.queuedCost >= backlog && !queue.isClosed {
            waited = true
            Thread.sleep(forTimeInterval: 0.001)
        }
        return waited
    }

    /// Stores what is queued, stops the thread, and returns the run's counters; rethrows a store failure.
    func finish() throws -> Counters {
        queue.close()
        if thread != nil { stopped.wait() }
        return try lock.withLock {
            if let failure { throw failure }
            var result = counters
            result.add("exchanges", done)
            result.add("late_requests", late)
            if lateStoreBehind > 0 { result.add("late_store_behind", lateStoreBehind) }
            if lag.totalCount > 0 { result.add("send_lag_max_ns", Int64(lag.max)) }
            for side in stats {
                let name = side.figures.side.rawValue
                result.add("sent_\(name)", side.figures.sent)
                if side.figures.reconnects > 0 { result.add("reconnect_\(name)", side.figures.reconnects) }
                if side.warmup > 0 { result.add("warmup_\(name)", side.warmup) }
                for (kind, n) in side.figures.errors { result.add("error_\(name)_\(kind.rawValue)", n) }
            }
            return result
        }
    }

    /// Where the run stands. Without `detailed`, the only percentile is each side's latency p99
    /// (what the progress line shows): each percentile is a linear scan of a histogram, and the
    /// full set takes milliseconds. They are computed from a snapshot, outside the lock the
    /// recorder stores under, so storing never waits for them.
    func progress(total: Int64?, elapsedNs: UInt64, durationSeconds: Double?, detailed: Bool = true) -> ReplayProgress {
        lock.lock()
        let done = self.done, late = self.late, lateStoreBehind = self.lateStoreBehind, stats = self.stats, lag = self.lag
        lock.unlock()
        return ReplayProgress(
            done: done, total: total, elapsedNs: elapsedNs, durationSeconds: durationSeconds,
            sides: stats.map { side in
                var figures = side.figures
                figures.latency = detailed ? Self.figures(side.latency) : Self.p99(side.latency)
                figures.service = detailed ? Self.figures(side.service) : LatencyFigures(count: side.service.totalCount)
                return figures
            },
            late: late, lateStoreBehind: lateStoreBehind, lag: detailed ? Self.figures(lag) : LatencyFigures(count: lag.totalCount))
    }

    /// Fewer records than this wait 10 ms for more before they are stored: each commit rewrites the
    /// last pages of both tables' B-trees, so a few large transactions cost far less than many small ones.
    static let recordsPerCommit = 512

    private func run() {
        while true {
            let batch = nextBatch()
            if batch.isEmpty {
                if queue.isClosedAndEmpty { return }
                continue
            }
            var rows: [ResultRow] = []
            rows.reserveCapacity(batch.count * targets.count)
            for record in batch { appendRows(of: record, to: &rows) }
            do {
                try database.insertResults(runID: runID, rows)
            } catch {
                lock.withLock {
                    failure = failure ?? error
                    counters.add("result_store_failed", Int64(batch.count))
                }
                raiseAbort(.io(path: database.path, detail: "cannot store replay results: \(error)"))
                continue
            }
            account(batch, rows: rows)
        }
    }

    /// What is queued; when that is under `recordsPerCommit` records, what is queued 10 ms later.
    private func nextBatch() -> [ReplayRecord] {
        var batch = queue.popAll()
        if batch.count < Self.recordsPerCommit && !queue.isClosed {
            Thread.sleep(forTimeInterval: 0.010)
            batch += queue.popAll()
        }
        return batch
    }

    /// One row per side of `record`, in `targets` order.
    private func appendRows(of record: ReplayRecord, to rows: inout [ResultRow]) {
        let intended = Int64(bitPattern: record.intendedNs)
        for index in record.outcomes.indices {
            let outcome = record.outcomes[index]
            let sent = Int64(bitPattern: outcome.sentNs)
            let answered = outcome.error == nil
            rows.append(ResultRow(
                exchangeID: record.item.exchangeID, pass: record.item.pass, side: targets[index].side,
                status: answered ? outcome.status : nil,
                firstByteNs: outcome.firstByteNs.map { Int64(bitPattern: $0) - intended },
                latencyNs: outcome.lastByteNs.map { Int64(bitPattern: $0) - intended },
                serviceNs: outcome.lastByteNs.map { Int64(bitPattern: $0) - sent },
                sendLagNs: sent - intended, scheduledNs: record.item.scheduledNs,
                headers: answered ? outcome.headers : nil, body: answered ? outcome.body ?? [] : nil,
                error: outcome.error, errorMessage: outcome.message, warmup: record.item.warmup, reconnect: outcome.reconnected))
        }
    }

    /// Updates the figures from stored rows: `rows` holds one row per side of each record, in order.
    private func account(_ batch: [ReplayRecord], rows: [ResultRow]) {
        lock.lock()
        defer { lock.unlock() }
        let sides = targets.count
        for (n, record) in batch.enumerated() {
            let first = n * sides
            done += 1
            var lagNs = rows[first].sendLagNs ?? 0
            for k in (first + 1)..<(first + sides) { lagNs = min(lagNs, rows[k].sendLagNs ?? lagNs) }
            if let cause = record.item.waited {
                late += 1
                if cause == .storeBehind { lateStoreBehind += 1 }
            }
            if !record.item.warmup { _ = lag.record(UInt64(max(1, lagNs))) }
            observer?.sent(lagNs: lagNs, late: record.item.waited != nil)
            for index in 0..<sides {
                let row = rows[first + index]
                // In place: a copy of the stats would copy their histograms on every record.
                if let error = row.error {
                    stats[index].failuresInARow += 1
                    if stats[index].failuresInARow == maxFailures {
                        raiseAbort(.targetDown(
                            url: targets[index].url, failures: maxFailures, detail: row.errorMessage ?? error.rawValue))
                    }
                } else {
                    stats[index].failuresInARow = 0
                }
                if row.warmup {
                    stats[index].warmup += 1
                } else {
                    stats[index].figures.sent += 1
                    if row.reconnect { stats[index].figures.reconnects += 1 }
                    if let error = row.error {
                        stats[index].figures.errors[error, default: 0] += 1
                    } else {
                        stats[index].figures.responses += 1
                        if let latency = row.latencyNs { _ = stats[index].latency.record(UInt64(max(1, latency))) }
                        if let service = row.serviceNs { _ = stats[index].service.record(UInt64(max(1, service))) }
                    }
                }
                observer?.recorded(side: row.side, status: row.status, error: row.error, latencyNs: row.latencyNs, serviceNs: row.serviceNs)
            }
        }
    }

    /// Sets `abortReason` unless it is set: the first reason stands.
    private func raiseAbort(_ reason: ShadowError) {
        abortLock.withLock { abort = abort ?? reason }
    }

    private static func p99(_ h: Histogram<UInt64>) -> LatencyFigures {
        LatencyFigures(count: h.totalCount, p99: h.totalCount > 0 ? h.valueAtPercentile(99) : nil)
    }

    private static func figures(_ h: Histogram<UInt64>) -> LatencyFigures {
        guard h.totalCount > 0 else { return LatencyFigures(count: 0) }
        return LatencyFigures(
            count: h.totalCount, p50: h.valueAtPercentile(50), p90: h.valueAtPercentile(90), p99: h.valueAtPercentile(99),
            p999: h.valueAtPercentile(99.9), max: h.max)
    }
}
