import Foundation
import ShadowCore

/// Writes captured exchanges to the store on a thread of its own, so parsing and SQLite run side by side.
///
/// Contract:
/// - One producer thread hands over batches with `submit`, which waits while `queueBytes` (bodies
///   and a fixed 256 bytes per exchange) are queued (backpressure). Written batches are freed by
///   the next `submit` (cheaper for the allocator than freeing them on the writer thread).
/// - Batches are committed every `batchSize` exchanges, and at least every `commitInterval` seconds
///   while traffic trickles in, so a killed capture loses at most that much.
/// - `finish` stops accepting work, commits everything queued and returns the number of exchanges
///   committed, or throws the first store error (after which submitted work is discarded).
public final class ExchangeWriterThread: @unchecked Sendable {
    private let queue: BoundedQueue<[CapturedExchange]>
    /// Batches already written, handed back so that the producer's thread frees them (cheaper for
    /// the allocator than freeing on this thread what another thread allocated).
    private let spent = BoundedQueue<[[CapturedExchange]]>(capacity: .max)
    private let writer: ExchangeWriter
    private let commitInterval: Double
    private let state = NSLock()
    private var committedCount: Int64 = 0
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)

    public init(database: ShadowDatabase, captureID: Int64, batchSize: Int = 1000, queueBytes: Int = 16 << 20,
                commitInterval: Double = 1) {
        writer = ExchangeWriter(database: database, captureID: captureID, batchSize: batchSize)
        queue = BoundedQueue(capacity: queueBytes)
        self.commitInterval = commitInterval
        Thread.startNamed("sd-store-writer") { [self] in run() }
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
        return queue.push(exchanges, cost: exchanges.reduce(0) { $0 + Self.cost(of: $1) })
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
        var lastCommit = Date()
        do {
            while true {
                if let batch = queue.pop(timeout: commitInterval) {
                    let before = writer.committed
                    hand(try writer.append(contentsOf: batch))
                    if writer.committed != before { lastCommit = Date() }
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

    private func hand(_ written: [[CapturedExchange]]) {
        if !written.isEmpty { _ = spent.offer(written) }
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
