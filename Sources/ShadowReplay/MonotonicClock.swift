import CShadowSys
import Glibc

/// The monotonic clock every replay timestamp comes from (CLOCK_MONOTONIC, ns).
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Waits until a monotonic deadline with sub-100 µs precision: sleeps until `spinNs` before it,
/// then spins. Call `prepareThread()` once on the waiting thread (timer slack of 1 ns).
public struct Pacer: Sendable {
    public var spinNs: UInt64

    public init(spinNs: UInt64 = 150_000) {
        self.spinNs = spinNs
    }

    /// Makes this thread's sleeps end on time instead of up to 50 µs late (Linux timer slack).
    public static func prepareThread() {
        _ = shadow_set_timer_slack(1)
    }

    /// Returns at `deadline` (or at once when it has passed), never earlier.
    public func wait(until deadline: UInt64) {
        while true {
            let now = MonotonicClock.now()
            if now >= deadline { return }
            if deadline - now > spinNs {
                var ts = timespec(tv_sec: Int((deadline - spinNs) / 1_000_000_000), tv_nsec: Int((deadline - spinNs) % 1_000_000_000))
                _ = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil)
            }
        }
    }
}
