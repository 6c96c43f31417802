import NIOCore
import ShadowCore
import ShadowHTTP1

/// How one side's connections were made ready before the run's clock started.
public struct SideReadiness: Sendable, Codable, Equatable {
    public var side: Side
    /// Lanes whose connection to this side is up (and proven, with a probe).
    public var ready: Int
    public var lanes: Int
    /// Connections that needed SYN retransmissions or longer than the connect timeout.
    public var slowConnects: Int
    /// Connect attempts that failed before the clock (each retried).
    public var failedConnects: Int
    /// Probe requests that got no answer (each retried on a new connection).
    public var failedProbes: Int
    /// Probes answered.
    public var proven: Int
    /// The target closed the connection after answering a probe: it does not keep connections alive.
    public var closesConnections: Bool
    /// Seconds the preparation of this side took.
    public var seconds: Double
}

/// Makes every lane's connection to every side ready before the schedule's clock starts, so that
/// no recorded request's latency includes a connect, a SYN retransmission or a target's
/// first-request costs (thread start-up, TCP slow start, lazy initialisation).
///
/// Contract: prepares each side's lanes with at most `connectsInFlight` lanes in flight per
/// target: a lane connects (each attempt allowed `max(connect timeout, 3.5 s)`, two SYN
/// retransmissions, up to `attempts` attempts) and then sends its probe, and its slot is freed only
/// once the probe is answered, so that at most `connectsInFlight` connections wait in the target's
/// accept queue (a Python `ThreadingHTTPServer`'s listen backlog is 5: 16 simultaneous SYNs
/// overflow it, and the dropped ones are retransmitted only after 1 s). A failed probe is retried
/// on a new connection. Sides are prepared in parallel. Counts `slow_connect_<side>` and
/// `probe_failed_<side>` in the run's counters (the lanes count `connect_failed_<side>`). Throws
/// `ShadowError.targetUnreachable` naming the side, how many lanes are not ready and why, when any
/// lane has no usable connection.
struct ConnectionPreparation: Sendable {
    let configuration: ReplayConfiguration
    let recorder: ResultRecorder
    var connectsInFlight = 4
    var attempts = 3

    private var attemptTimeout: TimeAmount {
        .milliseconds(Int64(max(configuration.connectTimeoutMs, 3_500)))
    }

    /// Prepares every side of `lanes` (the sides in parallel) and returns how each was made ready.
    func prepare(_ lanes: [Lane], probe: [(request: ByteBuffer, kind: HTTP1RequestKind)]?) async throws -> [SideReadiness] {
        let targets = configuration.targets
        let started = MonotonicClock.now()
        let perSide = await withTaskGroup(of: (Int, [LanePreparation]).self) { group in
            for side in targets.indices {
                group.addTask { (side, await prepare(lanes, side: side, probe: probe?[side])) }
            }
            var out = [[LanePreparation]](repeating: [], count: targets.count)
            for await (side, reports) in group { out[side] = reports }
            return out
        }
        let seconds = Double(MonotonicClock.now() - started) / 1e9
        var readiness: [SideReadiness] = []
        for (side, reports) in perSide.enumerated() {
            let name = targets[side].side.rawValue
            let entry = SideReadiness(
                side: targets[side].side, ready: reports.filter(\.ready).count, lanes: lanes.count,
                slowConnects: reports.filter(\.slow).count, failedConnects: reports.reduce(0) { $0 + $1.failedAttempts },
                failedProbes: reports.reduce(0) { $0 + $1.failedProbes }, proven: reports.filter(\.proven).count,
                closesConnections: reports.contains(where: \.closesConnections), seconds: seconds)
            if entry.slowConnects > 0 { recorder.count("slow_connect_\(name)", Int64(entry.slowConnects)) }
            if entry.failedProbes > 0 { recorder.count("probe_failed_\(name)", Int64(entry.failedProbes)) }
            readiness.append(entry)
            let notReady = reports.indices.filter { !reports[$0].ready }
            if let lane = notReady.first {
                throw ShadowError.targetUnreachable(
                    url: targets[side].url,
                    detail: "\(notReady.count) of \(lanes.count) connections could not be made ready before the run started "
                        + "(\(attempts) attempts each; lane \(lane + 1): \(reports[lane].lastError ?? "no connection"))")
            }
        }
        return readiness
    }

    /// Connects and proves one side of every lane, `connectsInFlight` lanes at a time: a lane's
    /// slot is freed once its probe is answered (the target has accepted the connection), or once
    /// connected without a probe.
    private func prepare(_ lanes: [Lane], side: Int, probe: (request: ByteBuffer, kind: HTTP1RequestKind)?) async -> [LanePreparation] {
        await withTaskGroup(of: (Int, LanePreparation).self) { group in
            var results = [LanePreparation](repeating: LanePreparation(), count: lanes.count)
            var next = 0
            func prepareNext(_ group: inout TaskGroup<(Int, LanePreparation)>) {
                let index = next
                next += 1
                group.addTask { (index, await prepare(lanes[index], side: side, probe: probe)) }
            }
            while next < min(connectsInFlight, lanes.count) { prepareNext(&group) }
            for await (index, report) in group {
                results[index] = report
                if next < lanes.count { prepareNext(&group) }
            }
            return results
        }
    }

    private func prepare(_ lane: Lane, side: Int, probe: (request: ByteBuffer, kind: HTTP1RequestKind)?) async -> LanePreparation {
        var report = await withCheckedContinuation { continuation in
            lane.loop.execute {
                lane.connectBeforeClock(side: side, attempts: attempts, attemptTimeout: attemptTimeout) { continuation.resume(returning: $0) }
            }
        }
        guard report.ready, let probe else { return report }
        let proof = await withCheckedContinuation { continuation in
            lane.loop.execute {
                lane.proveBeforeClock(
                    side: side, probe: probe.request, kind: probe.kind, attempts: attempts, attemptTimeout: attemptTimeout
                ) { continuation.resume(returning: $0) }
            }
        }
        report.ready = proof.ready
        report.proven = proof.proven
        report.failedProbes = proof.failedProbes
        report.closesConnections = proof.closesConnections
        report.lastError = proof.lastError ?? report.lastError
        return report
    }
}
