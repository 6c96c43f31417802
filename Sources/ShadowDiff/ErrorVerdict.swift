import ShadowCore
import ShadowStats

/// The error part of a diff, judged apart from decisions: a pair where a side failed tells
/// nothing about the decision, so it is left out of the mismatch rate and judged here instead.
///
/// Per error kind and for any kind, over the pairs where both baseline and candidate have a
/// result: how many failed on each side, and the candidate's excess rate over the baseline's with
/// Newcombe's paired interval (`PairedProportionDifference`, 95% two-sided). The gate regresses
/// only when the interval's lower bound exceeds `maxExcessRate`: evidence that the candidate fails
/// more, not a count that crossed a threshold by chance. With a secondary, the same comparison of
/// the secondary against the baseline shows how much two instances of one build differ.
public struct ErrorSection: Sendable, Codable {
    public struct Comparison: Sendable, Codable, Equatable {
        /// An error kind (`timeout`, ...) or `any`.
        public var kind: String
        public var pairs: Int64
        public var baselineFailed: Int64
        public var candidateFailed: Int64
        public var bothFailed: Int64
        /// Candidate rate minus baseline rate, and its 95% interval.
        public var excessRate: Double
        public var low: Double
        public var high: Double
        /// The lower bound exceeds the gate's limit.
        public var regressed: Bool
    }

    /// Pairs with a result on both sides.
    public var pairs: Int64 = 0
    /// The gate's limit on the candidate's excess error rate.
    public var maxExcessRate: Double
    public var any: Comparison?
    /// Per kind that either side had, by kind name.
    public var kinds: [Comparison] = []
    /// The secondary's failures against the baseline's (`candidate*` fields are the secondary's).
    public var secondary: Comparison?
    public var regressed = false

    public init(maxExcessRate: Double) {
        self.maxExcessRate = maxExcessRate
    }

    /// The gate's line for the summary.
    func gate() -> DiffSummary.Gate {
        let limit = "candidate − baseline ≤ \(percent(maxExcessRate)) at the 95% lower bound"
        guard let any else { return DiffSummary.Gate(name: "error rate", limit: limit, value: "no pairs", passed: true) }
        var value = "\(signedPercent(any.excessRate)) [\(signedPercent(any.low)), \(signedPercent(any.high))]: candidate "
            + "\(any.candidateFailed), baseline \(any.baselineFailed) failed of \(any.pairs) pairs"
        let worse = kinds.filter(\.regressed).map(\.kind)
        if !worse.isEmpty { value += "; regressed: " + worse.joined(separator: ", ") }
        return DiffSummary.Gate(name: "error rate", limit: limit, value: value, passed: !regressed)
    }
}

/// Counts each pair's failures by side and kind, for `ErrorSection`.
struct ErrorTally: Sendable {
    private struct Counts: Sendable {
        var both: Int64 = 0
        var firstOnly: Int64 = 0
        var secondOnly: Int64 = 0
    }

    private var pairs: Int64 = 0
    private var any = Counts()
    private var kinds: [String: Counts] = [:]
    private var secondaryPairs: Int64 = 0
    private var secondary = Counts()

    mutating func add(baseline: SideResult, candidate: SideResult, secondary s: SideResult?) {
        pairs += 1
        Self.count(candidate.error != nil, baseline.error != nil, into: &any)
        // Most pairs failed on neither side: no per-kind work (nor allocation) for them.
        if let kind = baseline.error ?? candidate.error {
            Self.count(candidate.error == kind, baseline.error == kind, into: &kinds[kind.rawValue, default: Counts()])
            if let other = candidate.error, other != kind {
                Self.count(true, false, into: &kinds[other.rawValue, default: Counts()])
            }
        }
        if let s {
            secondaryPairs += 1
            Self.count(s.error != nil, baseline.error != nil, into: &secondary)
        }
    }

    private static func count(_ first: Bool, _ second: Bool, into counts: inout Counts) {
        switch (first, second) {
        case (true, true): counts.both += 1
        case (true, false): counts.firstOnly += 1
        case (false, true): counts.secondOnly += 1
        case (false, false): break
        }
    }

    func judge(maxExcessRate: Double) -> ErrorSection {
        var section = ErrorSection(maxExcessRate: maxExcessRate)
        section.pairs = pairs
        guard pairs > 0 else { return section }
        func comparison(_ kind: String, _ c: Counts, pairs: Int64) -> ErrorSection.Comparison {
            let difference = PairedProportionDifference(both: c.both, firstOnly: c.firstOnly, secondOnly: c.secondOnly, pairs: pairs)
            let (low, high) = difference.interval()
            return ErrorSection.Comparison(
                kind: kind, pairs: pairs, baselineFailed: c.both + c.secondOnly, candidateFailed: c.both + c.firstOnly,
                bothFailed: c.both, excessRate: difference.estimate, low: low, high: high, regressed: low > maxExcessRate)
        }
        section.any = comparison("any", any, pairs: pairs)
        section.kinds = kinds.keys.sorted().map { comparison($0, kinds[$0]!, pairs: pairs) }
        if secondaryPairs > 0 { section.secondary = comparison("any", secondary, pairs: secondaryPairs) }
        section.regressed = section.any?.regressed == true || section.kinds.contains(where: \.regressed)
        return section
    }
}

func signedPercent(_ x: Double) -> String {
    (x >= 0 ? "+" : "") + percent(x)
}
