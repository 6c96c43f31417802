import CShadowSys
import Foundation
import ShadowCore

/// Runs `action`, on a thread of its own, for each of `signals` that arrives, instead of the
/// signals' default action. The handlers are in place when `init` returns, so a signal sent the
/// moment after (a supervisor's SIGTERM right after start-up) is not lost. After `cancel` the
/// signals are still caught but do nothing. One at a time per process.
final class StopOnSignals: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    init(signals: [Int32], action: @escaping @Sendable () -> Void) {
        let readEnd = signals.withUnsafeBufferPointer { shadow_signal_pipe($0.baseAddress, Int32($0.count)) }
        // Without a pipe the signals keep their default action: they still end the process.
        guard readEnd >= 0 else { return }
        Thread.startNamed("sd-signals") { [self] in
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n != 1 || byte == 0 { return }
                if !lock.withLock({ cancelled }) { action() }
            }
        }
    }

    func cancel() {
        lock.withLock { cancelled = true }
        shadow_signal_pipe_post(0)
    }
}

/// Set once from a signal handler, read by the importing thread.
final class SignalFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}
