import NIOCore

/// How much of one event loop's time its lanes may spend spinning toward due times.
///
/// A lane's timer fires `LaneSettings.spinNs` before its request is due and the lane spins out the
/// rest, so the request leaves on time rather than a timer wake-up late. While it spins the loop
/// reads nothing, so at high rates back-to-back spins would starve every connection on the loop.
/// Past `share` of a window, a lane waits for a timer at the due time instead: a loop that busy is
/// awake anyway, and its timers run close to their deadlines.
///
/// Confined to `loop`, like the lanes that share it.
final class SpinBudget: @unchecked Sendable {
    let loop: EventLoop
    private let windowNs: UInt64
    private let allowedNs: UInt64
    private var windowStart: UInt64 = 0
    private var spentNs: UInt64 = 0

    /// At most `share` (0...1) of every `windowNs` spent spinning.
    init(loop: EventLoop, windowNs: UInt64 = 1_000_000, share: Double = 0.25) {
        self.loop = loop
        self.windowNs = windowNs
        allowedNs = UInt64(Double(windowNs) * min(1, max(0, share)))
    }

    /// Spins until `deadline` and returns true if the window's budget allows it, else returns false at once.
    func spin(until deadline: UInt64) -> Bool {
        let now = MonotonicClock.now()
        if now >= deadline { return true }
        if now - windowStart >= windowNs {
            windowStart = now
            spentNs = 0
        }
        guard spentNs < allowedNs else { return false }
        Pacer.spin(until: deadline)
        spentNs += deadline - now
        return true
    }
}
