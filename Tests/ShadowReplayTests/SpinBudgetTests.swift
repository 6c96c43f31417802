import Foundation
import NIOPosix
import Testing

@testable import ShadowReplay

@Suite struct SpinBudgetTests {
    let loop = MultiThreadedEventLoopGroup.singleton.any()

    @Test func spinsToTheDeadlineWhileTheWindowHasBudget() {
        let budget = SpinBudget(loop: loop, windowNs: 1_000_000_000, share: 0.0003)  // 300 µs a second
        let deadline = MonotonicClock.now() + 200_000
        #expect(budget.spin(until: deadline))
        #expect(MonotonicClock.now() >= deadline)
    }

    @Test func refusesAtOnceOnceTheWindowsShareIsSpent() {
        let budget = SpinBudget(loop: loop, windowNs: 1_000_000_000, share: 0.0003)
        #expect(budget.spin(until: MonotonicClock.now() + 200_000))
        #expect(budget.spin(until: MonotonicClock.now() + 200_000))
        let deadline = MonotonicClock.now() + 2_000_000_000
        #expect(!budget.spin(until: deadline))
        #expect(MonotonicClock.now() < deadline)
    }

    @Test func aNewWindowBringsTheBudgetBack() {
        let budget = SpinBudget(loop: loop, windowNs: 200_000_000, share: 0.001)  // 200 µs every 200 ms
        #expect(budget.spin(until: MonotonicClock.now() + 250_000))
        #expect(!budget.spin(until: MonotonicClock.now() + 10_000_000))
        Thread.sleep(forTimeInterval: 0.25)
        #expect(budget.spin(until: MonotonicClock.now() + 50_000))
    }

    @Test func aDeadlineThatHasPassedCostsNothing() {
        let budget = SpinBudget(loop: loop, windowNs: 1_000_000_000, share: 0)
        #expect(budget.spin(until: MonotonicClock.now() - 1))
    }
}
