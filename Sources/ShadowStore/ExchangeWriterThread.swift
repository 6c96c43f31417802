import Foundation
import ShadowCore

/// Writes captured exchanges to the store on a thread of its own, so parsing and SQLite run side by side.
///
/// Contract:
/// - Producers hand over batches with `submit`, which waits while `queueBytes` (bodies and a
///   fixed 256 bytes per exchange) are queued (backpressure), or with `offer`, which never waits
///   and refuses instead (for the tee, where recording must never slow production); an offered
///   record is built on the writer thread, so that parsing leaves the event loops. With
///   `.eventLoops` producers the writer runs at nice 10.
/// - Batches are committed every `batchSize` exchanges, and at least every `commitInterval` seconds
///   while traffic trickles in, so a killed capture loses at most that much.
/// - `finish` stops accepting work, commits everything queued and returns the number of exchanges
///   committed, or throws the first store error (after which submitted work is discarded).
public final class ExchangeWriterThread: @unchecked Sendable {
    /// Queued work: exchanges ready to write, or one whose record is built on this thread.
    private enum Work {
        case exchanges([CapturedExchange])
        case deferred(@Sendable () -> EncodedExchange?)
    }

    private let queue: BoundedQueue<Work>
    /// Batches already written, handed back so that the producer's thread frees them (cheaper for
    /// the allocator than freeing on this thread what another thread allocated).
    private let spent = BoundedQueue<[[CapturedExchange]]>(capacity: .max)
    private let writer: ExchangeWriter
    private let commitInterval: Double
    private let producer: Producer
    private let state = NSLock()
    private var committedCount: Int64 = 0
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)

    /// What `offer` did with an exchange.
    public enum OfferResult: Sendable {
        case queued, queueFull, closed
    }

    /// Who feeds the writer, which decides how the two sides meet.
    public enum Producer: Sendable {
        /// One thread that `submit`s batches: the writer waits on the queue, and written batches are
        /// freed by the next `submit` (cheaper for the allocator than freeing them here).
        case importer
        /// Event loops that `offer` single exchanges: offers never wake the writer (a wake-up per
        /// request costs more than recording it); the writer takes what is queued every `pollInterval`
        /// seconds and frees it itself.
        case eventLoops(pollInterval: Double)
    }

    public init(database: ShadowDatabase, captureID: Int64, batchSize: Int = 1000, queueBytes: Int = 16 << 20,
                commitInterval: Double = 1, producer: Producer = .importer) {
        self.producer = producer
        writer = ExchangeWriter(database: database, captureID: captureID, batchSize: batchSize)
        queue = BoundedQueue(capacity: queueBytes)
        self.commitInterval = commitInterval
        let thread = Thread { [self] in run() }
        thread.name = "shadowdiff-store-writer"
        thread.start()
    }

    /// Exchanges durably committed so far.
    public var committed: Int64 {
        state.lock()
        defer { state.unlock() }
        return committedCount
    }

    /// Queues `exchanges`, waiting for room; false once the writer has failed or finished.
    @discardableResult
    public func submit(_ exchanges: [CapturedExchange]) -> Bool {
        releaseSpent()
        guard !exchanges.isEmpty else { return true }
        return queue.push(.exchanges(exchanges), cost: exchanges.reduce(0) { $0 + Self.cost(of: $1) })
    }

    /// Queues an exchange charged `cost` bytes if there is room, never waiting; callable from any
    /// thread. `build` makes it on the writer thread (so that parsing leaves the producer's thread),
    /// and may return nil to skip it.
    public func offer(cost: Int, building build: @escaping @Sendable () -> EncodedExchange?) -> OfferResult {
        if queue.offer(.deferred(build), cost: cost) { return .queued }
        return queue.isClosed ? .closed : .queueFull
    }

    /// Bytes an exchange is charged in the queue.
    static func cost(of exchange: CapturedExchange) -> Int {
        256 + exchange.request.body.count + (exchange.response?.body.count ?? 0)
    }

    /// Commits everything queued, stops the thread and returns the committed count.
    public func finish() throws -> Int64 {
        queue.close()
        done.wait()
        done.signal()
        releaseSpent()
        state.lock()
        defer { state.unlock() }
        if let failure { throw failure }
        return committedCount
    }

    private func run() {
        defer { done.signal() }
        if case .eventLoops = producer {
            // Production traffic comes first: under CPU contention the scheduler favours the event
            // loops (on Linux a nice value belongs to the calling thread).
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        }
        var lastCommit = Date()
        do {
            while true {
                if case .eventLoops(let pollInterval) = producer {
                    let work = queue.popAll()
                    if try write(work) { lastCommit = Date() }
                    if work.isEmpty {
                        if queue.isClosedAndEmpty { break }
                        Thread.sleep(forTimeInterval: pollInterval)
                    }
                } else if let work = queue.pop(timeout: commitInterval) {
                    if try write([work]) { lastCommit = Date() }
                } else if queue.isClosedAndEmpty {
                    break
                }
                if Date().timeIntervalSince(lastCommit) >= commitInterval {
                    hand(try writer.flush())
                    lastCommit = Date()
                }
                publish()
            }
            hand(try writer.flush())
            publish()
        } catch {
            state.lock()
            failure = error
            state.unlock()
            queue.close()
            while queue.pop() != nil {}
        }
    }

    /// Hands `work` to the writer in order; whether that committed a batch.
    private func write(_ work: [Work]) throws -> Bool {
        let before = writer.committed
        var built: [EncodedExchange] = []
        for item in work {
            switch item {
            case .exchanges(let batch):
                try writer.append(encoded: built)
                built.removeAll()
                hand(try writer.append(contentsOf: batch))
            case .deferred(let build):
                if let exchange = build() { built.append(exchange) }
            }
        }
        try writer.append(encoded: built)
        return writer.committed != before
    }

    private func hand(_ written: [[CapturedExchange]]) {
        if case .importer = producer, !written.isEmpty { _ = spent.offer(written) }
    }

    private func releaseSpent() {
        while spent.pop(timeout: 0) != nil {}
    }

    private func publish() {
        state.lock()
        committedCount = writer.committed
        state.unlock()
    }
}
