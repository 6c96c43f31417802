import Foundation
import Glibc
import Testing

@testable import ShadowReplay

/// The hold is a real PM QoS request: while it is taken the host's effective CPU wake-up latency
/// (read back from the same device) is 0, and once released this process holds no request on the
/// device (what the latency is then depends on other holders, e.g. replays of concurrent tests).
@Suite struct CPUWakeupLatencyHoldTests {
    private struct Unreadable: Error { var errno: Int32 }

    private func effectiveLatencyUs() throws -> Int32 {
        let fd = open(CPUWakeupLatencyHold.path, O_RDONLY)
        guard fd >= 0 else { throw Unreadable(errno: errno) }
        defer { close(fd) }
        var value: Int32 = -1
        guard read(fd, &value, MemoryLayout<Int32>.size) == MemoryLayout<Int32>.size else { throw Unreadable(errno: errno) }
        return value
    }

    /// This process's open descriptors on the device.
    private func descriptorsOnTheDevice() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == CPUWakeupLatencyHold.path
        }.count
    }

    @Test func holdingSetsTheWakeupLatencyToZeroUntilReleased() throws {
        switch CPUWakeupLatencyHold.acquire() {
        case .failure(let why):
            // Only where the device is missing or not ours (not root): then it must say which.
            #expect(getuid() != 0 || access(CPUWakeupLatencyHold.path, F_OK) != 0, "root with the device present: \(why.detail)")
            #expect(why.detail.hasPrefix(CPUWakeupLatencyHold.path + ": "))
        case .success(let hold):
            let held = try descriptorsOnTheDevice()
            #expect(held >= 1)
            #expect(try effectiveLatencyUs() == 0)
            hold.release()
            hold.release()
            #expect(try descriptorsOnTheDevice() == held - 1, "released: its request is closed")
        }
    }
}
