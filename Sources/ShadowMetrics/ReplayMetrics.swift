import Metrics
import NIOConcurrencyHelpers
import Prometheus

/// The replay's live metrics, made through swift-metrics with a Prometheus backend bound to one registry.
///
/// Contract: no global state (`MetricsSystem` is never bootstrapped); every metric is created through
/// a `PrometheusMetricsFactory` over `registry`, once: per-side and per-outcome metrics on first use,
/// the rest at init. Two instances over one registry share the same series. All methods are thread-safe;
/// `record` costs two dictionary lookups under one lock plus the metric updates.
///
/// Series (all `shadowdiff_replay_`): `requests_total{side,outcome}`, `latency_seconds{side}`,
/// `service_seconds{side}`, `send_lag_seconds`, `late_total`, and the gauges `done`, `planned`
/// (the total to replay: a gauge must not end in `_total`) and `in_flight`.
public final class ReplayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let perSide: NIOLockedValueBox<PerSide>
    private let sendLag: Metrics.Timer
    private let late: Metrics.Counter
    private let done: Metrics.Gauge
    private let planned: Metrics.Gauge
    private let inFlight: Metrics.Gauge

    /// Histogram buckets for a service with a P99 near 10 ms: 100 µs to 5 s.
    public static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.buckets
        self.registry = registry
        self.factory = factory
        self.perSide = NIOLockedValueBox(PerSide())
        sendLag = Metrics.Timer(label: "shadowdiff_replay_send_lag_seconds", factory: factory)
        late = Metrics.Counter(label: "shadowdiff_replay_late_total", factory: factory)
        done = Metrics.Gauge(label: "shadowdiff_replay_done", factory: factory)
        planned = Metrics.Gauge(label: "shadowdiff_replay_planned", factory: factory)
        inFlight = Metrics.Gauge(label: "shadowdiff_replay_in_flight", factory: factory)
    }

    /// One side's outcome for one replayed request. `side` is "baseline", "candidate" or "secondary";
    /// `error` is nil for a response, else an error kind such as "timeout", "connection_refused".
    /// latencyNs is from the intended send time to the last byte; serviceNs from the actual write.
    ///
    /// The outcome label is `error` when given, else the status class ("1xx"..."5xx"), else "unknown"
    /// (no status, or one outside 100...599). Negative durations count as zero.
    public func record(side: String, status: Int?, error: String?, latencyNs: Int64?, serviceNs: Int64?) {
        let outcome = error ?? Self.outcome(status: status)
        let (requests, timers) = perSide.withLockedValue { perSide in
            (perSide.requests(side: side, outcome: outcome, factory), perSide.timers(side: side, factory))
        }
        requests.increment()
        if let latencyNs { timers.latency.recordNanoseconds(max(0, latencyNs)) }
        if let serviceNs { timers.service.recordNanoseconds(max(0, serviceNs)) }
    }

    /// How far behind its schedule one request was sent (early counts as zero); `late` when it counts as late.
    public func recordSendLag(ns: Int64, late: Bool) {
        sendLag.recordNanoseconds(max(0, ns))
        if late { self.late.increment() }
    }

    /// Progress gauges: requests finished, requests to replay in all, requests sent and not yet finished.
    public func update(done: Int64, total: Int64, inFlight: Int) {
        self.done.record(done)
        planned.record(total)
        self.inFlight.record(inFlight)
    }

    private static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    static func outcome(status: Int?) -> String {
        guard let status, (100...599).contains(status) else { return "unknown" }
        return statusClasses[status / 100 - 1]
    }
}

/// The metrics made on first use, keyed without building strings.
private struct PerSide: Sendable {
    struct Timers: Sendable {
        let latency: Metrics.Timer
        let service: Metrics.Timer
    }

    struct OutcomeKey: Hashable, Sendable {
        let side: String
        let outcome: String
    }

    private var timersBySide: [String: Timers] = [:]
    private var requestsByOutcome: [OutcomeKey: Metrics.Counter] = [:]

    mutating func timers(side: String, _ factory: PrometheusMetricsFactory) -> Timers {
        if let timers = timersBySide[side] { return timers }
        let dimensions = [("side", side)]
        let timers = Timers(
            latency: Metrics.Timer(label: "shadowdiff_replay_latency_seconds", dimensions: dimensions, factory: factory),
            service: Metrics.Timer(label: "shadowdiff_replay_service_seconds", dimensions: dimensions, factory: factory))
        timersBySide[side] = timers
        return timers
    }

    mutating func requests(side: String, outcome: String, _ factory: PrometheusMetricsFactory) -> Metrics.Counter {
        let key = OutcomeKey(side: side, outcome: outcome)
        if let counter = requestsByOutcome[key] { return counter }
        let counter = Metrics.Counter(
            label: "shadowdiff_replay_requests_total", dimensions: [("side", side), ("outcome", outcome)],
            factory: factory)
        requestsByOutcome[key] = counter
        return counter
    }
}
