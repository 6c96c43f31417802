/// When each request is due, in nanoseconds since the run's start. Pure: the same inputs give the
/// same schedule.
///
/// - `.rate(r)`: request i is due at i / r seconds.
/// - `.speed(x)`: a request is due at its capture time minus the pass's first capture time,
///   divided by x; a new pass (`--loop`) starts one mean inter-arrival after the last request.
/// - `.concurrency`: nothing is due at a time of its own (nil): send when a lane is free.
/// - `maxRate` caps every mode with a token bucket of `burst` tokens: no request is due earlier
///   than the bucket allows, counting from the previous request's due time.
public struct ReplaySchedule: Sendable {
    public let mode: TimingMode
    private let capInterval: Double?
    private let burst: Double
    private var index: Int64 = 0
    private var passBase: Double = 0
    private var passFirstCapture: Int64?
    private var lastDue: Double = 0
    private var lastCaptureOffset: Double = 0
    private var passCount: Int64 = 0
    /// Token-bucket state: the earliest time the next request conforms (GCRA).
    private var nextConforming: Double = 0

    public init(mode: TimingMode, maxRate: Double? = nil, burst: Int = 1) {
        self.mode = mode
        capInterval = maxRate.map { 1e9 / $0 }
        self.burst = Double(max(1, burst))
    }

    /// Due time of the next request (ns since the start), given its capture time and the time now
    /// (ns since the start, used by closed loops under a cap); nil means "as soon as a lane is free".
    public mutating func due(captureTimeNs: Int64, nowNs: Int64) -> Int64? {
        defer { index += 1; passCount += 1 }
        var due: Double?
        switch mode {
        case .concurrency:
            due = nil
        case .rate(let rate):
            due = Double(index) * 1e9 / rate
        case .speed(let speed):
            let first = passFirstCapture ?? captureTimeNs
            passFirstCapture = first
            let offset = Double(max(0, captureTimeNs - first)) / speed
            lastCaptureOffset = offset
            due = passBase + offset
        }
        guard let capInterval else {
            if let due { lastDue = due }
            return due.map { Int64($0) }
        }
        let wanted = due ?? Double(nowNs)
        let allowed = max(wanted, nextConforming - (burst - 1) * capInterval)
        nextConforming = max(nextConforming, allowed) + capInterval
        lastDue = allowed
        return Int64(allowed)
    }

    /// Starts another pass over the capture (`--loop`).
    public mutating func startPass() {
        guard case .speed = mode else { return }
        let mean = passCount > 1 ? lastCaptureOffset / Double(passCount - 1) : 0
        passBase = lastDue + mean
        passFirstCapture = nil
        passCount = 0
    }
}
