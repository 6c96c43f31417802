import Foundation

/// A process as a capture row records its writer: the pid, plus what makes the pid unambiguous —
/// the kernel's boot id, the pid namespace and the process's start time — so that a pid reused
/// after a kill or a reboot is not taken for the writer.
///
/// Read from /proc; where there is none (macOS) nothing is recorded and no capture is ever judged
/// abandoned. A process in another pid namespace (another container) cannot be checked, so it is
/// never judged ended either.
struct ProcessIdentity: Equatable {
    var pid: Int64
    /// `<boot id>/<pid namespace>/<start time in clock ticks since boot>`.
    var start: String

    /// This process, or nil without /proc.
    static var current: ProcessIdentity? { of(pid: Int64(getpid())) }

    /// The live process `pid` of this pid namespace, or nil when there is none (a zombie counts as gone).
    static func of(pid: Int64) -> ProcessIdentity? {
        guard let frame, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let commandEnd = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": field 3 is the state, field 22 the start time.
        let fields = stat[stat.index(after: commandEnd)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return ProcessIdentity(pid: pid, start: frame + "/" + fields[19])
    }

    /// Whether the process recorded as (`pid`, `start`) has ended; false when that cannot be told
    /// (nothing recorded, no /proc here, another pid namespace).
    static func hasEnded(pid: Int64?, start: String?) -> Bool {
        guard let pid, let start, let frame else { return false }
        let bootID = frame.prefix { $0 != "/" }
        if !start.hasPrefix(bootID + "/") { return true }
        if !start.hasPrefix(frame + "/") { return false }
        return of(pid: pid)?.start != start
    }

    /// Where a pid names one process: this boot, this pid namespace.
    private static var frame: String? {
        guard let bootID = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8),
              let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        else { return nil }
        return bootID.trimmingCharacters(in: .whitespacesAndNewlines) + "/" + namespace
    }
}
