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

/// Keeping a schedule: sleeping until a monotonic deadline, and spinning the last stretch (a timer
/// wakes a virtual CPU from idle tens of µs late).
public enum Pacer {
    /// How long before a due time an event loop's timer fires for a scheduled request; the rest
    /// is spun.
    public static let defaultLoopSpinNs: UInt64 = 100_000

    /// Makes this thread's sleeps end on time instead of up to 50 µs late (Linux timer slack).
    public static func prepareThread() {
        _ = shadow_set_timer_slack(1)
    }

    /// Moves this thread to SCHED_IDLE: it runs only when a CPU has nothing else to run, so the
    /// threads that keep the schedule and read responses never wait for it (at nice 10 the store's
    /// commits still delayed them: bench/RESULTS.md). Falls back to nice 10 where SCHED_IDLE is refused.
    public static func yieldToOthers() {
        if shadow_set_thread_idle(0, 1, 0) != 0 { _ = shadow_set_thread_nice(10) }
    }

    /// Sleeps until `deadline` (returns at once when it has passed), never earlier.
    public static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while MonotonicClock.now() < deadline && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    /// Spins until `deadline` (returns at once when it has passed).
    @inline(__always)
    public static func spin(until deadline: UInt64) {
        while MonotonicClock.now() < deadline {}
    }
}
