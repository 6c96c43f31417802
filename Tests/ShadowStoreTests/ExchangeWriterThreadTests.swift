import Foundation
import ShadowCore
import Testing

@testable import ShadowStore

@Suite struct ExchangeWriterThreadTests {
    @Test func everySubmittedExchangeIsCommittedInOrder() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/w.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "interface", source: "lo", filter: nil)
            let store = ExchangeWriterThread(database: db, captureID: capture, batchSize: 10, queueBytes: 25 * 300)
            for start in stride(from: 0, to: 1000, by: 7) {
                #expect(store.submit((start..<min(1000, start + 7)).map { sampleExchange($0, response: $0 % 4 != 0) }))
            }
            #expect(try store.finish() == 1000)
            #expect(!store.submit([sampleExchange(1)]), "nothing is accepted after finish")
            let stored = try db.exchanges(captureID: capture, afterID: 0, limit: 2000)
            #expect(stored.map(\.exchange) == (0..<1000).map { sampleExchange($0, response: $0 % 4 != 0) })
        }
    }

    @Test func aTrickleIsCommittedWithinTheCommitInterval() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/t.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "interface", source: "lo", filter: nil)
            let store = ExchangeWriterThread(database: db, captureID: capture, batchSize: 1000, commitInterval: 0.1)
            store.submit([sampleExchange(1), sampleExchange(2)])
            let deadline = Date().addingTimeInterval(5)
            while store.committed < 2 && Date() < deadline { usleep(10_000) }
            #expect(store.committed == 2, "committed without waiting for a full batch or finish")
            let reader = try ShadowDatabase(path: dir + "/t.db", mode: .mustExist)
            #expect(try reader.exchanges(captureID: capture, afterID: 0, limit: 10).count == 2)
            #expect(try store.finish() == 2)
        }
    }

    @Test func offeredExchangesAreCommittedAndAFullQueueRefusesAtOnce() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/o.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "proxy", source: "test", filter: nil)
            let store = ExchangeWriterThread(
                database: db, captureID: capture, batchSize: 100, queueBytes: 1 << 20, producer: .eventLoops(pollInterval: 0.001))
            var queued = 0
            for i in 0..<500 where store.offer(sampleExchange(i)) == .queued { queued += 1 }
            #expect(queued > 0)
            // An exchange larger than what is left of the queue is refused without waiting.
            let huge = CapturedExchange(
                captureTimeNs: 1, connection: 1, client: "c", server: "s",
                request: RecordedRequest(method: "POST", target: "/", headers: [], body: Array(repeating: 1, count: 2 << 20)),
                response: nil, productionLatencyNs: nil)
            let started = Date()
            while store.offer(huge) == .queued {}
            #expect(Date().timeIntervalSince(started) < 1)
            let committed = try store.finish()
            #expect(committed >= Int64(queued))
            #expect(store.offer(sampleExchange(1)) == .closed, "nothing is accepted after finish")
            #expect(try db.exchangeCount(captureID: capture) == committed)
        }
    }

    @Test func offerRefusesWhenFullAndNeverWaits() {
        let queue = BoundedQueue<Int>(capacity: 3)
        #expect(queue.offer(1) && queue.offer(2) && queue.offer(3))
        #expect(!queue.offer(4), "full")
        #expect(queue.pop() == 1)
        #expect(queue.offer(4))
        queue.close()
        #expect(!queue.offer(5) && !queue.push(5), "closed")
        #expect([queue.pop(), queue.pop(), queue.pop(), queue.pop()] == [2, 3, 4, nil])
        #expect(queue.isClosedAndEmpty)
    }

    @Test func pushWaitsForRoomAndAnOversizedItemStillPasses() {
        let queue = BoundedQueue<[Int]>(capacity: 4)
        #expect(queue.push([0], cost: 10), "an item over capacity enters an empty queue")
        let total = BlockingBox(0)
        let done = DispatchSemaphore(value: 0)
        // A real thread: pop blocks, which must not happen on the cooperative pool.
        Thread {
            while let item = queue.pop() { total.value += item.count }
            done.signal()
        }.start()
        for i in 0..<200 { queue.push([i, i], cost: 2) }
        queue.close()
        done.wait()
        #expect(total.value == 401)
        #expect(queue.pop(timeout: 0.01) == nil)
    }
}

/// A value handed from one thread to another across a semaphore.
private final class BlockingBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

extension ExchangeWriterThread {
    /// Offers an exchange already built, charged as `submit` charges it.
    fileprivate func offer(_ exchange: CapturedExchange) -> OfferResult {
        offer(cost: Self.cost(of: exchange)) { EncodedExchange(exchange) }
    }
}
