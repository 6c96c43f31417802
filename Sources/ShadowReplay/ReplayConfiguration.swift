import ShadowCore

/// Everything that determines a replay run; stored as JSON with the run so it can be repeated.
public struct ReplayConfiguration: Sendable, Codable {
    public var run: String
    public var baseline: ReplayTarget
    public var candidate: ReplayTarget
    public var secondary: ReplayTarget?
    /// Requests in flight at once; each side gets a keep-alive pool of this many connections.
    public var concurrency: Int
    /// Per-request limit from the write to the last response byte.
    public var timeoutMs: Int
    public var connectTimeoutMs: Int
    /// Larger response bodies are recorded as `body_too_large`.
    public var maxBodyBytes: Int
    /// Replay one capture only; nil replays every stored exchange.
    public var captureID: Int64?
    /// Replay at most this many exchanges.
    public var limit: Int?
    /// Seeds the per-request choice of which side is sent to first.
    public var seed: UInt64

    public init(
        run: String, baseline: ReplayTarget, candidate: ReplayTarget, secondary: ReplayTarget? = nil,
        concurrency: Int = 8, timeoutMs: Int = 2000, connectTimeoutMs: Int = 1000, maxBodyBytes: Int = 8 << 20,
        captureID: Int64? = nil, limit: Int? = nil, seed: UInt64 = 1
    ) {
        self.run = run
        self.baseline = baseline
        self.candidate = candidate
        self.secondary = secondary
        self.concurrency = concurrency
        self.timeoutMs = timeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.maxBodyBytes = maxBodyBytes
        self.captureID = captureID
        self.limit = limit
        self.seed = seed
    }

    public var targets: [ReplayTarget] {
        [baseline, candidate] + (secondary.map { [$0] } ?? [])
    }
}

/// Counts so far, for a progress line.
public struct ReplayProgress: Sendable {
    public var done: Int64
    public var total: Int64
    public var elapsedNs: UInt64
    /// Failed requests per side.
    public var errors: [Side: Int64]
}
