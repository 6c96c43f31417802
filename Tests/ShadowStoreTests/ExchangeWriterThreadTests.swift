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
