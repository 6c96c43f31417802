#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Latency distributions of several sides on shared log-spaced bins, reduced for charts: a
/// histogram and a tail-dense CDF per side. The size is bounded by `bins` and `cdfPoints`, not
/// by the number of samples.
public struct LatencyDistribution: Codable, Sendable, Hashable {
    /// The nearest-rank value at level `fraction`: `valueNs` is the ceil(fraction × count)-th
    /// smallest sample (the smallest when that is 0).
    public struct CDFPoint: Codable, Sendable, Hashable {
        public var valueNs: Int64
        public var fraction: Double

        public init(valueNs: Int64, fraction: Double) {
            self.valueNs = valueNs
            self.fraction = fraction
        }
    }

    public struct Series: Codable, Sendable, Hashable {
        /// "baseline", "candidate", "secondary" (or any caller-given name; untrusted for display).
        public var name: String
        public var count: Int
        /// Samples per bin of `binEdgesNs`; one entry per bin, summing to `count`.
        public var histogram: [Int]
        /// Strictly increasing in `valueNs` and in `fraction`; the first point is at the minimum,
        /// the last is (maximum, 1.0). Of several levels with the same value only the highest is
        /// kept. Empty when `count == 0`.
        public var cdf: [CDFPoint]

        /// The value of the first CDF point at or above `level`: the exact nearest-rank value when
        /// `level` is a stored level (p0, p50, p90, p99, p99.9 always are when `cdfPoints >= 6`),
        /// otherwise an upper bound from the next stored level. nil when the series is empty.
        public func valueNs(at level: Percentile) -> Int64? {
            let fraction = level.fraction
            return cdf.first { $0.fraction >= fraction }?.valueNs
        }
    }

    /// Strictly increasing. Bin i holds the samples in [edge i, edge i+1); the last bin is closed
    /// and the first also holds every sample below the first edge (sub-microsecond, zero or
    /// negative values). Empty when no series has a sample.
    public var binEdgesNs: [Int64]
    public var series: [Series]

    /// Precondition: each `sortedNs` is ascending; `bins >= 1`; `cdfPoints >= 2`.
    ///
    /// The edges are log-spaced from the smallest positive sample of all series, floored at
    /// 1 µs, to the largest sample; fewer than `bins` bins when that range has fewer distinct
    /// integer edges. When every sample sits at one point (or all are at or below 1 µs), there
    /// is one bin of ±5 % around that point (1 µs for the latter).
    ///
    /// The CDF levels are p0, p50, p90, p99, p99.9 and p99.99, then as the budget allows evenly
    /// spaced levels below p90 and levels from p90 to p99.9 evenly spaced in log(1/(1−p)), then the
    /// maximum: at most `cdfPoints` points. Levels whose value is the maximum merge into it (so
    /// p99.99 shows only with more than 10,000 samples). O(n) in the total sample count.
    public init(series input: [(name: String, sortedNs: [Int64])], bins: Int = 60, cdfPoints: Int = 200) {
        precondition(bins >= 1, "a latency distribution needs at least one bin")
        precondition(cdfPoints >= 2, "a CDF needs at least two points (minimum and maximum)")
        let edges = Self.edges(input.map(\.sortedNs), bins: bins)
        let levels = Self.levelsPPM(cdfPoints: cdfPoints)
        binEdgesNs = edges
        series = input.map { name, sorted in
            Series(
                name: name,
                count: sorted.count,
                histogram: Self.histogram(sorted, edges: edges),
                cdf: Self.cdf(sorted, levelsPPM: levels)
            )
        }
    }

    static let floorNs: Int64 = 1_000

    static func edges(_ all: [[Int64]], bins: Int) -> [Int64] {
        guard let hi = all.compactMap(\.last).max() else { return [] }
        let lo = Swift.max(floorNs, all.compactMap(firstPositive).min() ?? floorNs)
        guard hi > lo else {
            let margin = Swift.max(1, lo / 20)
            return [lo - margin, lo > Int64.max - margin ? Int64.max : lo + margin]
        }
        let low = Double(lo)
        let logRatio = log(Double(hi) / low)
        var edges = [lo]
        edges.reserveCapacity(bins + 1)
        for i in 1..<bins {
            let edge = low * exp(logRatio * Double(i) / Double(bins))
            guard edge < Double(hi) else { break }
            let rounded = Int64(edge.rounded())
            if rounded > edges[edges.count - 1] && rounded < hi { edges.append(rounded) }
        }
        edges.append(hi)
        return edges
    }

    private static func firstPositive(_ sorted: [Int64]) -> Int64? {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] > 0 { high = mid } else { low = mid + 1 }
        }
        return low < sorted.count ? sorted[low] : nil
    }

    static func histogram(_ sorted: [Int64], edges: [Int64]) -> [Int] {
        let binCount = Swift.max(0, edges.count - 1)
        var counts = [Int](repeating: 0, count: binCount)
        guard binCount > 0 else { return counts }
        var bin = 0
        var previous = Int64.min
        for value in sorted {
            precondition(value >= previous, "latency samples must be sorted ascending")
            previous = value
            while bin < binCount - 1 && value >= edges[bin + 1] { bin += 1 }
            counts[bin] += 1
        }
        return counts
    }

    /// Levels in parts per million, strictly increasing, below 1_000_000, at most `cdfPoints - 1`
    /// of them (the maximum is added separately).
    static func levelsPPM(cdfPoints: Int) -> [Int] {
        let anchors = [0, 500_000, 900_000, 990_000, 999_000, 999_900]
        let budget = cdfPoints - 1
        var levels = Array(anchors.prefix(budget))
        let extra = Swift.max(0, budget - anchors.count)
        let body = extra / 2
        let tail = extra - body
        for j in 0..<body {
            levels.append(900_000 * (j + 1) / (body + 1))
        }
        for j in 0..<tail {
            let decades = 1 + 2 * Double(j + 1) / Double(tail + 1)
            levels.append(1_000_000 - Int((1_000_000 * pow(10, -decades)).rounded()))
        }
        levels.sort()
        var unique: [Int] = []
        unique.reserveCapacity(levels.count)
        for level in levels where level != unique.last { unique.append(level) }
        return unique
    }

    static func cdf(_ sorted: [Int64], levelsPPM: [Int]) -> [CDFPoint] {
        guard let maximum = sorted.last else { return [] }
        var points: [CDFPoint] = []
        points.reserveCapacity(levelsPPM.count + 1)
        func add(_ value: Int64, _ fraction: Double) {
            if let last = points.last, last.valueNs == value {
                points[points.count - 1].fraction = fraction
            } else {
                points.append(CDFPoint(valueNs: value, fraction: fraction))
            }
        }
        for ppm in levelsPPM {
            let level = Percentile(partsPerMillion: ppm)
            add(sorted[level.nearestRank(count: sorted.count) - 1], level.fraction)
        }
        add(maximum, 1)
        return points
    }
}
