import Foundation
import Synchronization
import Testing

@testable import ShadowCore

@Suite struct BoundedQueueTests {
    /// Runs `body` on a thread of its own; the returned semaphore is signalled when it is done.
    private func onThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        Thread {
            body()
            done.signal()
        }.start()
        return done
    }

    @Test func aProducerFasterThanItsConsumerHandsOverEverythingInOrder() {
        let queue = BoundedQueue<Int>(capacity: 8)
        let produced = onThread {
            for n in 0..<5_000 { queue.push(n) }
            queue.close()
        }
        var received: [Int] = []
        while let n = queue.pop() {
            received.append(n)
            #expect(queue.queuedCost <= 8)
        }
        #expect(produced.wait(timeout: .now() + 10) == .success)
        #expect(received == Array(0..<5_000))
    }

    @Test func anItemCostingMoreThanHalfTheCapacityGetsInOnceThereIsRoom() {
        let queue = BoundedQueue<String>(capacity: 10)
        queue.push("a", cost: 4)
        queue.push("b", cost: 4)
        let pushed = onThread { queue.push("c", cost: 7) }
        #expect(pushed.wait(timeout: .now() + 0.2) == .timedOut)
        #expect(queue.pop() == "a")
        #expect(pushed.wait(timeout: .now() + 0.2) == .timedOut, "4 + 7 is still over 10")
        #expect(queue.pop() == "b")
        #expect(pushed.wait(timeout: .now() + 10) == .success)
        #expect(queue.pop() == "c")
    }

    @Test func closingReleasesAWaitingProducerAndRefusesItsItem() {
        let queue = BoundedQueue<Int>(capacity: 1)
        queue.push(1)
        let result = Mutex(true)
        let pushed = onThread { result.withLock { $0 = queue.push(2) } }
        #expect(pushed.wait(timeout: .now() + 0.2) == .timedOut)
        queue.close()
        #expect(pushed.wait(timeout: .now() + 10) == .success)
        #expect(result.withLock { $0 } == false)
        #expect(queue.pop() == 1)
        #expect(queue.pop() == nil)
    }
}
