/// Nearest-rank percentiles (numpy `method="inverted_cdf"`, computed with exact integer ranks).
public enum Percentiles {
    /// The `percentile.nearestRank(count:)`-th smallest element of an ascending `sorted`
    /// collection; nil when it is empty. Does not apply the too-few-samples rule.
    public static func nearestRank<C: RandomAccessCollection>(_ percentile: Percentile, ofSorted sorted: C) -> C.Element? {
        guard !sorted.isEmpty else { return nil }
        let rank = percentile.nearestRank(count: sorted.count)
        return sorted[sorted.index(sorted.startIndex, offsetBy: rank - 1)]
    }

    /// The reason a percentile is withheld for `count` samples, or nil when it may be reported.
    public static func unavailableReason(_ percentile: Percentile, count: Int, noun: String = "samples") -> String? {
        let needed = percentile.minimumSamples
        guard count < needed else { return nil }
        return "\(percentile.label) needs ≥ \(needed) \(noun) (has \(count))"
    }
}

/// One side's percentile: the value when enough samples exist, else nil with the reason.
public struct PercentileValue: Codable, Sendable, Hashable {
    public var percentile: Percentile
    /// The nearest-rank value in nanoseconds; nil when `sampleCount < requiredSamples`.
    public var valueNs: Int64?
    /// `percentile.minimumSamples`: at least 10 observations at or above the level.
    public var requiredSamples: Int
    public var unavailableReason: String?
}

/// One side's latency distribution: sample count and the requested nearest-rank percentiles.
public struct LatencySummary: Codable, Sendable, Hashable {
    public var sampleCount: Int
    public var percentiles: [PercentileValue]

    /// Contract: `sorted` is ascending. Each level is reported only when
    /// `sorted.count >= level.minimumSamples` (the maximum needs one sample).
    public init(sorted: [Int64], percentiles levels: [Percentile] = Percentile.reported) {
        sampleCount = sorted.count
        percentiles = levels.map { level in
            let reason = Percentiles.unavailableReason(level, count: sorted.count)
            return PercentileValue(
                percentile: level,
                valueNs: reason == nil ? Percentiles.nearestRank(level, ofSorted: sorted) : nil,
                requiredSamples: level.minimumSamples,
                unavailableReason: reason
            )
        }
    }

    /// Sorts a copy of `latencies` and summarizes it.
    public init(latencies: [Int64], percentiles levels: [Percentile] = Percentile.reported) {
        self.init(sorted: RadixSort.sorted(latencies), percentiles: levels)
    }

    /// The reported value at `level`, nil when withheld or not requested.
    public func valueNs(at level: Percentile) -> Int64? {
        percentiles.first { $0.percentile == level }?.valueNs
    }
}

/// A percentile of the per-request ratio candidate / baseline.
public struct RatioPercentile: Codable, Sendable, Hashable {
    public var percentile: Percentile
    /// The nearest-rank ratio; nil when `pairsUsed < requiredPairs`.
    public var ratio: Double?
    public var requiredPairs: Int
    public var unavailableReason: String?
}

/// Per-request slowdown: percentiles of `candidate[i] / baseline[i]` over the pairs whose baseline
/// latency is not 0 (those are skipped and counted).
public struct LatencyRatioSummary: Codable, Sendable, Hashable {
    public var pairsUsed: Int
    public var skippedZeroBaseline: Int
    public var percentiles: [RatioPercentile]

    /// Levels reported by default: the median and p90.
    public static let defaultLevels: [Percentile] = [.p50, .p90]

    /// Contract: `baseline.count == candidate.count` (precondition). Same too-few-samples rule as
    /// latencies (p90 needs 100 usable pairs).
    public init(baseline: [Int64], candidate: [Int64], percentiles levels: [Percentile] = LatencyRatioSummary.defaultLevels) {
        precondition(baseline.count == candidate.count, "ratio of unpaired samples")
        var ratios: [Double] = []
        ratios.reserveCapacity(baseline.count)
        var skipped = 0
        for index in baseline.indices {
            let base = baseline[index]
            if base == 0 { skipped += 1; continue }
            ratios.append(Double(candidate[index]) / Double(base))
        }
        ratios = RadixSort.sorted(ratios)
        pairsUsed = ratios.count
        skippedZeroBaseline = skipped
        percentiles = levels.map { level in
            let reason = Percentiles.unavailableReason(level, count: ratios.count, noun: "pairs")
            return RatioPercentile(
                percentile: level,
                ratio: reason == nil ? Percentiles.nearestRank(level, ofSorted: ratios) : nil,
                requiredPairs: level.minimumSamples,
                unavailableReason: reason
            )
        }
    }

    /// The median ratio, nil when no pair is usable or the median was not requested.
    public var median: Double? { ratio(at: .p50) }
    /// The p90 ratio, nil with fewer than 100 usable pairs.
    public var p90: Double? { ratio(at: .p90) }

    public func ratio(at level: Percentile) -> Double? {
        percentiles.first { $0.percentile == level }?.ratio
    }
}
