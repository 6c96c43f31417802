import Foundation
import Synchronization
import Testing

import ShadowCore

@Suite struct NamedThreadTests {
    /// The name is the one the kernel reports for the thread, so `top -H` and `perf` show it.
    @Test func theKernelSeesTheThreadsName() {
        let seen = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.startNamed("sd-test-thread", stackSize: 1 << 20) {
            let comm = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = comm?.trimmingCharacters(in: .whitespacesAndNewlines) }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(seen.withLock { $0 } == "sd-test-thread")
    }
}
