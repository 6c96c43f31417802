import Glibc

/// Keeps the host's CPU wake-up latency at zero while it is held: a Linux PM QoS request written to
/// /dev/cpu_dma_latency (what cyclictest does). Idle CPUs then poll instead of entering sleep
/// states, so a thread woken by a response or a timer runs at once rather than after a sleep
/// state's exit latency (tens of µs on VMs whose idle driver halts the virtual CPU). The request
/// lasts until `release()` or until the process ends, whichever comes first.
public final class CPUWakeupLatencyHold: @unchecked Sendable {
    public static let path = "/dev/cpu_dma_latency"
    private var descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Takes the hold, or says in one line why it cannot (no such interface, not permitted: it
    /// needs root or CAP_SYS_ADMIN-like access to the device).
    public static func acquire() -> Result<CPUWakeupLatencyHold, HoldUnavailable> {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(HoldUnavailable(detail: "\(path): \(String(cString: strerror(errno)))")) }
        var zero: Int32 = 0
        guard write(fd, &zero, MemoryLayout<Int32>.size) == MemoryLayout<Int32>.size else {
            let detail = "\(path): \(String(cString: strerror(errno)))"
            close(fd)
            return .failure(HoldUnavailable(detail: detail))
        }
        return .success(CPUWakeupLatencyHold(descriptor: fd))
    }

    /// Ends the request (idempotent).
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    /// Why the hold could not be taken.
    public struct HoldUnavailable: Error, Sendable {
        public var detail: String
    }
}
