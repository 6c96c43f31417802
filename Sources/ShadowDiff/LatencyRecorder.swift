import Histogram

/// Percentiles of one side's latencies, in nanoseconds. Nil fields mean no samples.
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: UInt64
    public var p50Ns: UInt64?
    public var p90Ns: UInt64?
    public var p99Ns: UInt64?
    public var maxNs: UInt64?
}

/// Records latencies into an HdrHistogram (1 ns to 1 hour, 3 significant digits).
public struct LatencyRecorder: Sendable {
    private var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    /// Samples above the trackable range, clamped to it.
    public private(set) var clamped: UInt64 = 0

    public init() {}

    public mutating func record(ns: Int64) {
        let value = UInt64(max(1, min(ns, 3_600_000_000_000)))
        if ns > 3_600_000_000_000 { clamped += 1 }
        _ = histogram.record(value)
    }

    public var summary: LatencySummary {
        guard histogram.totalCount > 0 else { return LatencySummary(count: 0) }
        return LatencySummary(
            count: histogram.totalCount,
            p50Ns: histogram.valueAtPercentile(50), p90Ns: histogram.valueAtPercentile(90),
            p99Ns: histogram.valueAtPercentile(99), maxNs: histogram.max)
    }
}
