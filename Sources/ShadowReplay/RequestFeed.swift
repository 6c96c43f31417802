import Foundation
import NIOCore
import ShadowCore
import ShadowHTTP1
import ShadowStore

/// Reads the capture a page at a time on its own thread and queues the requests a run sends, already
/// encoded for every side, in (pass, exchange id) order.
///
/// Contract: skips exchanges the selection excludes (counted once, in the first pass, by reason:
/// `skipped_filtered_out`, `skipped_not_sampled`), exchanges of a protocol replay cannot send yet
/// (anything but HTTP/1.1: `skipped_protocol_h2`, `skipped_protocol_grpc`) and, when resuming, those the run already holds (`resumed_skipped`); stops after `limit`
/// requests, after one pass unless looping, and when `stop()` closes the queue. Memory is bounded
/// by the queue's capacity, plus, when looping, the first pass's encoded requests if they fit in
/// `passCacheBytes` (later passes are then sent from them). A store error ends the feed; `failure`
/// holds it.
final class RequestFeed: @unchecked Sendable {
    let queue: BoundedQueue<ReplayItem>
    private let database: ShadowDatabase
    private let configuration: ReplayConfiguration
    private let resumeRunID: Int64?
    private let builder: RequestBuilder
    /// Encoded bytes of one pass a looping run keeps, so later passes skip the store and the encoding.
    private let passCacheBytes: Int
    private let lock = NSLock()
    private var counters = Counters()
    private var error: (any Error)?
    private let stopped = DispatchSemaphore(value: 0)
    private var thread: Thread?

    init(
        database: ShadowDatabase, configuration: ReplayConfiguration, resumeRunID: Int64?, capacity: Int = 2048,
        passCacheBytes: Int = 32 << 20
    ) {
        self.database = database
        self.passCacheBytes = passCacheBytes
        self.configuration = configuration
        self.resumeRunID = resumeRunID
        builder = RequestBuilder(targets: configuration.targets, rewrite: configuration.rewrite)
        queue = BoundedQueue(capacity: capacity)
    }

    /// Starts the reading thread; `yielding` lowers its priority (it works ahead of the schedule).
    func start(yielding: Bool = false) {
        thread = Thread.startNamed("sd-feed") { [self] in
            if yielding { Pacer.yieldToOthers() }
            do { try run() } catch { lock.withLock { self.error = error } }
            queue.close()
            stopped.signal()
        }
    }

    /// Stops feeding (items already queued are dropped with the queue) and waits for the thread.
    func stop() {
        queue.close()
        while queue.pop() != nil {}
        if thread != nil { stopped.wait() }
        thread = nil
    }

    var failure: (any Error)? { lock.withLock { error } }
    var skipped: Counters { lock.withLock { counters } }

    private func run() throws {
        let config = configuration
        var done = ResumeKeys(database: database, runID: resumeRunID)
        var produced = 0
        // A looping run's selected requests, encoded, while they fit in `passCacheBytes`.
        var cache: [ReplayItem]? = config.loop ? [] : nil
        var cachedBytes = 0
        /// Queues one selected request of `pass`; false when the feed is done.
        func feed(_ item: ReplayItem, pass: Int) throws -> Bool {
            if let limit = config.limit, produced >= limit { return false }
            produced += 1
            if try done.contains(pass: pass, exchangeID: item.exchangeID) {
                lock.withLock { counters.add("resumed_skipped") }
                return true
            }
            var item = item
            item.pass = pass
            item.order = Self.sideOrder(seed: config.seed, exchangeID: item.exchangeID, pass: pass, sides: config.targets.count)
            return queue.push(item)
        }

        var selected = 0
        let firstPassDone = try forEachSelected(excluded: { reason in
            lock.withLock { counters.add("skipped_\(reason)") }
        }) { stored in
            selected += 1
            let item = item(for: stored)
            if cache != nil {
                cachedBytes += item.requestBytes
                if cachedBytes <= passCacheBytes { cache?.append(item) } else { cache = nil }
            }
            return try feed(item, pass: 0)
        }
        guard firstPassDone && config.loop && selected > 0 else { return }
        var pass = 1
        while true {
            if let cache {
                for item in cache {
                    guard try feed(item, pass: pass) else { return }
                }
            } else {
                guard try forEachSelected({ try feed(item(for: $0), pass: pass) }) else { return }
            }
            pass += 1
        }
    }

    /// Calls `body` with every stored request the selection keeps, in id order, a page at a time,
    /// until it returns false; `excluded` is told why each other one is left out (`protocol_h2`, a
    /// `DropReason`'s name). False when `body` stopped it.
    private func forEachSelected(
        excluded: (String) -> Void = { _ in }, _ body: (StoredRequest) throws -> Bool
    ) throws -> Bool {
        var after: Int64 = 0
        while true {
            let page = try database.requests(captureID: configuration.captureID, afterID: after, limit: 256)
            guard let last = page.last else { return true }
            after = last.id
            for stored in page {
                if stored.wireProtocol != .http1 {
                    excluded("protocol_\(stored.wireProtocol.rawValue)")
                } else if let reason = configuration.selection.exclusion(id: stored.id, method: stored.method, path: stored.path) {
                    excluded(reason.rawValue)
                } else if try !body(stored) {
                    return false
                }
            }
        }
    }

    /// The request encoded for every side, its pass and order not set yet.
    private func item(for stored: StoredRequest) -> ReplayItem {
        ReplayItem(
            exchangeID: stored.id, pass: 0, captureTimeNs: stored.captureTimeNs, requests: builder.encode(stored),
            kind: HTTP1RequestKind(method: stored.method), order: [])
    }

    /// The order a request is written to the sides in: a shuffle seeded by the run's seed, the
    /// exchange and the pass, so that a run is reproducible.
    static func sideOrder(seed: UInt64, exchangeID: Int64, pass: Int, sides: Int) -> [Int] {
        var rng = SplitMix64(seed: seed ^ UInt64(bitPattern: exchangeID) ^ (UInt64(pass) << 48))
        return Array(0..<sides).shuffled(using: &rng)
    }
}

/// The (pass, exchange id) keys a run already holds, read in order a page at a time, so that
/// resuming a run of millions of requests does not load them all.
struct ResumeKeys {
    private let database: ShadowDatabase
    private let runID: Int64?
    private var page: [(pass: Int, exchangeID: Int64)] = []
    private var index = 0
    private var exhausted = false

    init(database: ShadowDatabase, runID: Int64?) {
        self.database = database
        self.runID = runID
        exhausted = runID == nil
    }

    /// Whether the key is stored. Keys must be asked in increasing order.
    mutating func contains(pass: Int, exchangeID: Int64) throws -> Bool {
        while !exhausted {
            if index == page.count {
                let last = page.last ?? (pass: -1, exchangeID: 0)
                page = try database.replayedKeys(runID: runID!, after: last.pass, last.exchangeID, limit: 4096)
                index = 0
                if page.isEmpty {
                    exhausted = true
                    return false
                }
            }
            let key = page[index]
            if (key.pass, key.exchangeID) < (pass, exchangeID) {
                index += 1
                continue
            }
            return key.pass == pass && key.exchangeID == exchangeID
        }
        return false
    }
}
