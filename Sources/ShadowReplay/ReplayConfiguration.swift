import ShadowCore

/// How the replayer decides when each request is sent.
public enum TimingMode: Sendable, Codable, Equatable {
    /// Closed loop: this many requests in flight, each sent as soon as the previous one on its
    /// connections is answered by every side.
    case concurrency(Int)
    /// Open loop: a fixed number of requests per second, whatever the targets answer.
    case rate(Double)
    /// Open loop: the capture's own inter-arrival times divided by this factor.
    case speed(Double)

    public var isOpenLoop: Bool {
        if case .concurrency = self { return false }
        return true
    }
}

/// Everything that determines a replay run; stored as JSON with the run so that it can be repeated
/// and resumed.
public struct ReplayConfiguration: Sendable, Codable {
    public var run: String
    public var baseline: ReplayTarget
    public var candidate: ReplayTarget
    public var secondary: ReplayTarget?
    public var timing: TimingMode
    /// Lanes: requests in flight at most. Each lane owns one keep-alive connection per side, so
    /// every side gets a pool of this size.
    public var connections: Int
    /// Stop sending after this many seconds.
    public var durationSeconds: Double?
    /// Send at most this many requests (over every pass).
    public var limit: Int?
    /// Start again from the first exchange when the capture is exhausted (needs --duration or --limit).
    public var loop: Bool
    /// The first this many requests are sent and stored but marked as warm-up, out of statistics.
    public var warmup: Int
    /// Caps the send rate of any mode (token bucket).
    public var maxRate: Double?
    /// Per-request limit from the write to the last response byte.
    public var timeoutMs: Int
    public var connectTimeoutMs: Int
    /// Larger response bodies are recorded as `body_too_large`.
    public var maxBodyBytes: Int
    /// A side that fails this many requests in a row ends the run (the target is down).
    public var maxFailures: Int
    /// Replay one capture only; nil replays every stored exchange.
    public var captureID: Int64?
    /// Seeds the per-request order in which the sides are sent to.
    public var seed: UInt64
    public var selection: RequestSelection
    public var rewrite: RequestRewrite
    /// What proves each connection before the clock starts; nil (a run stored before probes
    /// existed) is `.first`.
    public var probe: ProbeRequest?

    public init(
        run: String, baseline: ReplayTarget, candidate: ReplayTarget, secondary: ReplayTarget? = nil,
        timing: TimingMode = .concurrency(8), connections: Int? = nil, durationSeconds: Double? = nil,
        limit: Int? = nil, loop: Bool = false, warmup: Int = 0, maxRate: Double? = nil, timeoutMs: Int = 2000,
        connectTimeoutMs: Int = 1000, maxBodyBytes: Int = 8 << 20, maxFailures: Int = 100, captureID: Int64? = nil,
        seed: UInt64 = 1, selection: RequestSelection = RequestSelection(), rewrite: RequestRewrite = RequestRewrite(),
        probe: ProbeRequest = .first
    ) {
        self.run = run
        self.baseline = baseline
        self.candidate = candidate
        self.secondary = secondary
        self.timing = timing
        if case .concurrency(let n) = timing { self.connections = n } else { self.connections = connections ?? 64 }
        self.durationSeconds = durationSeconds
        self.limit = limit
        self.loop = loop
        self.warmup = warmup
        self.maxRate = maxRate
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.maxBodyBytes = maxBodyBytes
        self.maxFailures = maxFailures
        self.captureID = captureID
        self.seed = seed
        self.selection = selection
        self.rewrite = rewrite
        self.probe = probe
    }

    public var targets: [ReplayTarget] {
        [baseline, candidate] + (secondary.map { [$0] } ?? [])
    }
}

/// The request each lane sends on each of its connections before the run's clock starts, so that
/// no recorded request's latency includes a connection's set-up or a target's first-request costs.
/// Its answer is not recorded.
public enum ProbeRequest: Sendable, Codable, Equatable {
    /// The run's first request (as every side would get it).
    case first
    /// No probe: connections are made before the clock, not proven.
    case none
    /// A request without a body, e.g. `GET /health`.
    case request(method: String, path: String)

    /// Parses `first`, `none` or `METHOD /path`.
    public init(parsing text: String) throws {
        switch text {
        case "first": self = .first
        case "none": self = .none
        default:
            let parts = text.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].allSatisfy({ $0.isLetter && $0.isUppercase }), parts[1].hasPrefix("/"),
                  parts[1].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw ShadowError.invalidArgument(flag: "--probe", detail: "'\(text)' is not 'first', 'none' or 'METHOD /path' (e.g. 'GET /health')")
            }
            self = .request(method: String(parts[0]), path: String(parts[1]))
        }
    }
}
