import CShadowSys
import Foundation
import Testing

@testable import ShadowReplay

@Suite struct PacerTests {
    @Test func aYieldingThreadRunsUnderTheIdlePolicy() async {
        let policy = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread.detachNewThread {
                Pacer.yieldToOthers()
                continuation.resume(returning: sched_getscheduler(0))
            }
        }
        #expect(policy == SCHED_IDLE)
    }

    @Test func spinReturnsOnlyOnceTheDeadlineHasPassed() {
        let deadline = MonotonicClock.now() + 200_000
        Pacer.spin(until: deadline)
        #expect(MonotonicClock.now() >= deadline)
    }
}
