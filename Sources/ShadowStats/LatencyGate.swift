/// A latency gate: "the candidate's `percentile` may not be slower than the baseline's by more than
/// max(`relativeFraction` × baseline percentile, `absoluteNs`)". The practical threshold keeps
/// tiny, statistically clear but harmless shifts from failing a release.
public struct LatencyGate: Codable, Sendable, Hashable, CustomStringConvertible {
    public var percentile: Percentile
    /// Relative part of the threshold, e.g. 0.05 for 5 % of the baseline percentile.
    public var relativeFraction: Double
    /// Absolute floor of the threshold in nanoseconds.
    public var absoluteNs: Int64

    /// Contract: `percentile` is below the maximum (the maximum cannot be bootstrapped; such a gate
    /// is reported as not judged); `relativeFraction >= 0`; `absoluteNs >= 0`.
    public init(percentile: Percentile, relativeFraction: Double, absoluteNs: Int64) {
        precondition(relativeFraction >= 0 && relativeFraction.isFinite, "relative fraction must be finite and >= 0")
        precondition(absoluteNs >= 0, "absolute threshold must be >= 0")
        self.percentile = percentile
        self.relativeFraction = relativeFraction
        self.absoluteNs = absoluteNs
    }

    /// The defaults: p50 may grow by max(5 %, 0.5 ms), p99 by max(5 %, 1 ms).
    public static let defaults: [LatencyGate] = [
        LatencyGate(percentile: .p50, relativeFraction: 0.05, absoluteNs: 500_000),
        LatencyGate(percentile: .p99, relativeFraction: 0.05, absoluteNs: 1_000_000),
    ]

    /// max(relativeFraction × baselineValueNs, absoluteNs), in ns.
    public func thresholdNs(baselineValueNs: Int64) -> Double {
        Swift.max(relativeFraction * Double(baselineValueNs), Double(absoluteNs))
    }

    /// "p99 +max(5%, 1 ms)".
    public var description: String {
        "\(percentile.label) +max(\(formatPercent(relativeFraction)), \(formatNanoseconds(absoluteNs)))"
    }
}

func formatPercent(_ fraction: Double) -> String {
    let percent = fraction * 100
    let rounded = (percent * 100).rounded() / 100
    return rounded == rounded.rounded() ? "\(Int(rounded))%" : "\(rounded)%"
}

/// "1 ms", "500 us", "1.5 ms", "250 ns".
func formatNanoseconds(_ ns: Int64) -> String {
    let magnitude = ns.magnitude
    func scaled(_ unit: UInt64, _ suffix: String) -> String {
        if magnitude % unit == 0 { return "\(ns / Int64(unit)) \(suffix)" }
        let value = (Double(ns) / Double(unit) * 1000).rounded() / 1000
        return "\(value) \(suffix)"
    }
    if magnitude >= 1_000_000_000 { return scaled(1_000_000_000, "s") }
    if magnitude >= 1_000_000 { return scaled(1_000_000, "ms") }
    if magnitude >= 1_000 { return scaled(1_000, "us") }
    return "\(ns) ns"
}
