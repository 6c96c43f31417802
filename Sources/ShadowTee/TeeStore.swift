import CShadowSys
import Foundation
import ShadowCore
import ShadowStore

/// The tee's recording thread: takes the event loops' spool segments, stores each whole in
/// `spooled_exchanges`, and expands them into `exchanges` when the CPU has nothing else to do.
///
/// Contract:
/// - `offer` never waits: a segment that does not fit in `queueBytes` is refused at once, and its
///   records are counted `record_queue_full` by the caller (`store_failed` once the store failed).
/// - The thread is the capture's only writer while it runs: it also stores the session's counters
///   (the tally, with `exchanges` the records stored so far) every `countersInterval` seconds, in a
///   spool transaction, so that no other thread waits on its lock.
/// - Queued segments are stored first, in one transaction per wake-up (`pollInterval`), at the
///   thread's `StorePriority`: by default SCHED_IDLE, so that production never waits for it, unless
///   the queue runs over half full (`balancePriority`).
/// - Expanding (parsing heads, indexing rows) runs when nothing is queued, up to 64 segments per
///   transaction, replacing their spooled rows with their records in arrival order, at SCHED_IDLE
///   whatever the priority. What is left when the tee stops is expanded by `finish`.
/// - `finish` stops accepting segments, stores what is queued, expands everything spooled by this
///   capture and returns the number of exchanges it stored (records that cannot be are counted by
///   reason); it throws the first store error, after which `stored` says what was kept.
public final class TeeStore: @unchecked Sendable {
    private let database: ShadowDatabase
    private let captureID: Int64
    private let tally: TeeTally
    private let queue: BoundedQueue<SpoolSegment>
    private let pollInterval: Double
    private let countersInterval: Double
    private let priority: StorePriority
    private let state = NSLock()
    private var storedCount: Int64 = 0
    private var expandedCount: Int64 = 0
    private var failure: Error?
    /// The store thread's kernel id, once it runs.
    private var threadID: Int32?
    /// Lifted to nice 10 by `balancePriority`.
    private var raised = false
    private let done = DispatchSemaphore(value: 0)

    public init(
        database: ShadowDatabase, captureID: Int64, tally: TeeTally, queueBytes: Int, priority: StorePriority = .idle,
        pollInterval: Double = 0.005, countersInterval: Double = 5
    ) {
        self.database = database
        self.captureID = captureID
        self.tally = tally
        self.priority = priority
        self.pollInterval = pollInterval
        self.countersInterval = countersInterval
        queue = BoundedQueue(capacity: queueBytes)
        Thread.startNamed("sd-tee-store") { [self] in run() }
    }

    /// Records durably stored so far, spooled or expanded.
    public var stored: Int64 { state.withLock { storedCount } }

    /// Records expanded into `exchanges` so far.
    public var expanded: Int64 { state.withLock { expandedCount } }

    /// With `.idle`: lifts the store thread to nice 10 while its queue is over half full, and lets
    /// it back to SCHED_IDLE once the queue is under an eighth full, so that a host saturated for
    /// longer than the queue lasts still keeps its records (counted `store_priority_raised`). Call
    /// it about ten times a second, from any thread but an event loop; it never waits on the store.
    public func balancePriority() {
        guard priority == .idle, ThreadPriority.canLeaveIdle else { return }
        let fill = queue.queuedCost
        state.withLock {
            guard let threadID else { return }
            if !raised && fill > queue.capacity / 2 {
                raised = true
                ThreadPriority.set(.low, thread: threadID)
                tally.add("store_priority_raised")
            } else if raised && fill < queue.capacity / 8 {
                raised = false
                ThreadPriority.set(.idle, thread: threadID)
            }
        }
    }

    /// Queues `segment` if there is room, never waiting; nil when queued, else why it was not.
    func offer(_ segment: SpoolSegment) -> DropReason? {
        if queue.offer(segment, cost: segment.bytes.count) { return nil }
        return queue.isClosed ? .storeFailed : .recordQueueFull
    }

    /// Stores what is queued, expands every record this capture spooled, stops the thread and
    /// returns the exchanges stored; `progress` is called on the calling thread with (expanded,
    /// stored) as the expansion advances.
    public func finish(progress: (_ expanded: Int64, _ stored: Int64) -> Void = { _, _ in }) throws -> Int64 {
        // Production is no longer served: the rest goes at nice 10, however busy the machine.
        if let thread = state.withLock({ threadID }), ThreadPriority.canLeaveIdle { ThreadPriority.set(.low, thread: thread) }
        queue.close()
        while done.wait(timeout: .now() + 0.25) == .timedOut {
            progress(expanded, stored)
        }
        done.signal()
        progress(expanded, stored)
        return try state.withLock {
            if let failure { throw failure }
            return expandedCount
        }
    }

    private func run() {
        defer { done.signal() }
        state.withLock { threadID = shadow_thread_id() }
        ThreadPriority.set(priority == .idle ? .idle : .low)
        var backlog = false
        var countersStored = Date()
        do {
            while true {
                let segments = queue.popAll()
                let countersDue = Date().timeIntervalSince(countersStored) >= countersInterval
                if !segments.isEmpty || countersDue {
                    let records = segments.reduce(0) { $0 + $1.records }
                    var counters: Counters?
                    if countersDue {
                        counters = tally.snapshot
                        counters!.add("exchanges", stored + Int64(records))
                        countersStored = Date()
                    }
                    try database.spool(captureID: captureID, segments: segments.map { ($0.records, $0.bytes) }, counters: counters)
                    state.withLock { storedCount += Int64(records) }
                    if !segments.isEmpty {
                        backlog = true
                        continue
                    }
                }
                if queue.isClosedAndEmpty { break }
                if backlog {
                    // Expanding never competes with production, whatever the priority.
                    let lowered = priority == .low && ThreadPriority.canLeaveIdle
                    if lowered { ThreadPriority.set(.idle) }
                    backlog = try expandOldest()
                    if lowered { ThreadPriority.set(.low) }
                } else {
                    Thread.sleep(forTimeInterval: pollInterval)
                }
            }
            while try expandOldest() {}
        } catch {
            state.withLock { failure = error }
            queue.close()
            while queue.pop(timeout: 0) != nil {}
        }
    }

    /// Expands the oldest segments spooled by this capture; false when there were none.
    private func expandOldest() throws -> Bool {
        guard let expanded = try Self.expandOldest(of: captureID, in: database, tally: tally) else { return false }
        state.withLock { expandedCount += Int64(expanded) }
        return true
    }

    /// Segments expanded per transaction: with several event loops, their segments overlap in time,
    /// and records are stored in arrival order within each such batch.
    static let segmentsPerExpansion = 64

    /// Replaces the oldest segments `captureID` has spooled with their records as exchanges, in
    /// order of arrival, counting those that cannot be stored; returns how many were stored, or
    /// nil when nothing was spooled. A segment that does not decode stays spooled with zero
    /// records, its records counted `spool_unreadable`, for a person to look at.
    static func expandOldest(of captureID: Int64, in database: ShadowDatabase, tally: TeeTally) throws -> Int? {
        let segments = try database.oldestSpooledSegments(captureID: captureID, limit: segmentsPerExpansion)
        guard !segments.isEmpty else { return nil }
        var records: [TeeRecord] = []
        var readable: [SpooledSegment] = []
        for segment in segments {
            do {
                records += try SpoolSegment.records(in: segment.bytes)
                readable.append(segment)
            } catch {
                try database.markUnreadable(segment)
                tally.add(.spoolUnreadable, Int64(segment.records))
            }
        }
        records.sort { $0.wallClockNs < $1.wallClockNs }
        let exchanges = records.compactMap { $0.exchange(policy: RecordingPolicy(), tally: tally) }
        try database.expand(readable, of: captureID, into: exchanges)
        return exchanges.count
    }

    /// Expands what captures that ended without finishing (killed, crashed) left spooled, adding
    /// what could not be stored to their counters; returns the records expanded.
    public static func expandLeftovers(
        in database: ShadowDatabase, progress: (_ expanded: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws -> Int64 {
        let leftovers = try database.spooledRecordsOfEndedCaptures()
        let total = leftovers.reduce(0) { $0 + $1.records }
        var expanded: Int64 = 0
        for (captureID, _) in leftovers {
            let tally = TeeTally()
            while let stored = try expandOldest(of: captureID, in: database, tally: tally) {
                expanded += Int64(stored)
                progress(expanded, total)
            }
            let drops = tally.snapshot
            if !drops.values.isEmpty { try database.addCaptureCounters(id: captureID, counters: drops) }
        }
        return expanded
    }
}

/// How the store thread competes for CPU with production (`--store-priority`).
public enum StorePriority: String, Sendable, CaseIterable {
    /// SCHED_IDLE: it runs only on CPU time nothing else wants. Production never waits for it; under
    /// sustained saturation its queue fills and records are dropped, counted `record_queue_full`.
    case idle
    /// Nice 10: it always gets a share, so records are kept at the cost of some production CPU;
    /// only the expansion runs at SCHED_IDLE (where the thread may return to nice 10).
    case low
}

/// Moves a thread between nice 10 and SCHED_IDLE.
private enum ThreadPriority {
    enum Level { case idle, low }

    /// Whether leaving SCHED_IDLE for nice 10 is permitted (root, or an RLIMIT_NICE of at least 10).
    static let canLeaveIdle = shadow_may_lower_nice_to(10) != 0

    /// Sets thread `thread`'s level (0: the calling thread's).
    static func set(_ level: Level, thread: Int32 = 0) {
        _ = shadow_set_thread_idle(thread, level == .idle ? 1 : 0, 10)
    }
}
