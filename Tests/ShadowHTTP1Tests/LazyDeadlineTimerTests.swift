import NIOCore
import NIOEmbedded
import Testing

@testable import ShadowHTTP1

@Suite struct LazyDeadlineTimerTests {
    /// A connection's successive deadlines, as its owner uses the timer: on firing, time out when
    /// the pending deadline has passed, else arm it again.
    final class Owner {
        let loop = EmbeddedEventLoop()
        var timer = LazyDeadlineTimer()
        var pending: NIODeadline?
        var fires = 0
        var timeouts = 0

        func begin(timeoutMs: Int64) {
            pending = loop.now + .milliseconds(timeoutMs)
            arm()
        }

        func arm() {
            guard let pending else { return }
            timer.arm(pending, on: loop) { [self] in
                timer.fired()
                fires += 1
                guard let pending = self.pending else { return }
                if pending <= loop.now { timeouts += 1 } else { arm() }
            }
        }
    }

    @Test func laterDeadlinesScheduleNothingUntilTheArmedOneFires() {
        let owner = Owner()
        owner.begin(timeoutMs: 100)
        for _ in 0..<9 {
            owner.loop.advanceTime(by: .milliseconds(10))
            owner.begin(timeoutMs: 100)
        }
        owner.loop.advanceTime(by: .milliseconds(10))
        #expect(owner.fires == 1, "the first request's task fired once, and was armed again for the last one's deadline")
        #expect(owner.timeouts == 0)
        owner.loop.advanceTime(by: .milliseconds(89))
        #expect(owner.timeouts == 0)
        owner.loop.advanceTime(by: .milliseconds(1))
        #expect(owner.timeouts == 1)
    }

    @Test func anEarlierDeadlineMovesTheTaskAndCancelStopsIt() {
        let owner = Owner()
        owner.begin(timeoutMs: 500)
        owner.begin(timeoutMs: 50)
        owner.loop.advanceTime(by: .milliseconds(50))
        #expect(owner.fires == 1 && owner.timeouts == 1)
        owner.begin(timeoutMs: 50)
        owner.timer.cancel()
        owner.loop.advanceTime(by: .seconds(1))
        #expect(owner.fires == 1, "neither the cancelled task nor the 500 ms one fired")
    }
}
