/// A percentile level such as p50, p99.9 or the maximum, held exactly in parts per million so that
/// ranks and sample-size rules are integer arithmetic (no `0.999 * n` rounding surprises).
///
/// Contract: `0 <= partsPerMillion <= 1_000_000`; `1_000_000` is the maximum. Encodes in JSON as
/// its label ("p50", "p99.9", "max") and decodes from the same label.
public struct Percentile: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The level in parts per million: p99 is 990_000, p99.9 is 999_000, max is 1_000_000.
    public let partsPerMillion: Int

    /// Creates the level `partsPerMillion / 1_000_000`; precondition: `0...1_000_000`.
    public init(partsPerMillion: Int) {
        precondition((0...1_000_000).contains(partsPerMillion), "percentile out of range: \(partsPerMillion) ppm")
        self.partsPerMillion = partsPerMillion
    }

    public static let p50 = Percentile(partsPerMillion: 500_000)
    public static let p90 = Percentile(partsPerMillion: 900_000)
    public static let p99 = Percentile(partsPerMillion: 990_000)
    public static let p999 = Percentile(partsPerMillion: 999_000)
    public static let max = Percentile(partsPerMillion: 1_000_000)

    /// The levels a latency summary reports by default: p50, p90, p99, p99.9, max.
    public static let reported: [Percentile] = [.p50, .p90, .p99, .p999, .max]

    /// The level as a fraction in [0, 1] (for display and arithmetic that tolerates rounding).
    public var fraction: Double { Double(partsPerMillion) / 1_000_000 }

    public var isMaximum: Bool { partsPerMillion == 1_000_000 }

    /// "p50", "p99.9", "p99.99", "max".
    public var label: String {
        if isMaximum { return "max" }
        let whole = partsPerMillion / 10_000
        let fractional = partsPerMillion % 10_000
        if fractional == 0 { return "p\(whole)" }
        var digits = String(fractional)
        digits = String(repeating: "0", count: 4 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "p\(whole).\(digits)"
    }

    public var description: String { label }

    /// Parses "p50", "p99.9", "P99.99", "max", "p100" (= max); nil for anything else or finer than
    /// a ten-thousandth of a percent.
    public init?(label: String) {
        let lower = label.lowercased()
        if lower == "max" { self.init(partsPerMillion: 1_000_000); return }
        guard lower.hasPrefix("p") else { return nil }
        let body = lower.dropFirst()
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholeText = parts.first, !wholeText.isEmpty, wholeText.count <= 3,
              wholeText.allSatisfy(\.isASCII), let whole = Int(wholeText) else { return nil }
        var ppm = whole * 10_000
        if parts.count == 2 {
            let fractionText = parts[1]
            guard !fractionText.isEmpty, fractionText.count <= 4, fractionText.allSatisfy(\.isASCII),
                  let fraction = Int(fractionText) else { return nil }
            var scale = 1
            for _ in 0..<(4 - fractionText.count) { scale *= 10 }
            ppm += fraction * scale
        }
        guard (0...1_000_000).contains(ppm) else { return nil }
        self.init(partsPerMillion: ppm)
    }

    /// The 1-based nearest rank of this level in `count` sorted observations: `ceil(p * count)`,
    /// at least 1 (numpy `method="inverted_cdf"` with exact arithmetic). Precondition: `count > 0`.
    public func nearestRank(count: Int) -> Int {
        precondition(count > 0, "nearest rank of an empty sample")
        let scaled = partsPerMillion.multipliedFullWidth(by: count)
        let (quotient, remainder) = 1_000_000.dividingFullWidth(scaled)
        return Swift.max(1, quotient + (remainder > 0 ? 1 : 0))
    }

    /// The "too few samples" rule: the level is only reported when at least 10 observations lie at
    /// or above it, i.e. `count >= ceil(10 / (1 - p))` (p90: 100, p99: 1000, p99.9: 10_000;
    /// p50: 20). The maximum needs one observation.
    public var minimumSamples: Int {
        if isMaximum { return 1 }
        let above = 1_000_000 - partsPerMillion
        return (10 * 1_000_000 + above - 1) / above
    }

    public static func < (lhs: Percentile, rhs: Percentile) -> Bool {
        lhs.partsPerMillion < rhs.partsPerMillion
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = Percentile(label: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a percentile label: \(text)")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(label)
    }
}
