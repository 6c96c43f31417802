import Foundation
import ShadowCore

/// Folds replayed exchanges into a `DiffSummary`, one at a time, in memory bounded by the number
/// of distinct mismatch groups (capped) plus one latency pair per compared request.
///
/// Per exchange it makes up to three comparisons with the same rules: baseline vs candidate (what
/// the report is about), baseline vs secondary (noise, when the run has a secondary) and
/// production vs baseline (how faithful replay is, when the capture holds production's answer).
/// Whether a candidate difference is reported depends on its field's noise rate, known only at
/// the end, so `finish()` decides significance and counts mismatched pairs then.
public struct DiffAccumulator: Sendable {
    public let rules: DiffRules
    /// At most this many distinct (endpoint, kind, field) groups per comparison; mismatches
    /// beyond are counted as ungrouped.
    public static let maxGroups = 10_000
    /// At most this many distinct per-pair group combinations are tracked exactly.
    static let maxSignatures = 100_000

    private var pairs: Int64 = 0
    private var incomplete: Int64 = 0
    private var rulesApplied: [RulePreset: Int64] = [:]
    private var tallies: [Comparison: ComparisonTally] = [:]
    private var errors: [Side: [String: Int64]] = [:]
    private var errorTally = ErrorTally()
    private var errorPairs: Int64 = 0
    private var unparsable: [String: DiffSummary.Unparsable] = [:]
    private var latency = LatencySamples()
    /// Endpoint names of the (method, target) pairs seen, so that each is worked out once; at most
    /// `maxCachedEndpoints` of them.
    private var endpointNames: [RequestLine: String] = [:]
    static let maxCachedEndpoints = 4096

    private struct RequestLine: Hashable, Sendable {
        var method: String
        var target: String
    }

    public init(rules: DiffRules) {
        self.rules = rules
    }

    /// Adds one replayed exchange (one pass of it). `production` is production's own answer
    /// from the capture, when there is one; sides missing from `results` make the pair incomplete
    /// (counted, not compared).
    public mutating func add(
        exchangeID: Int64, pass: Int = 0, request: RecordedRequest, production: (RecordedResponse?, failure: String?)? = nil,
        results: [Side: SideResult]
    ) {
        for (side, result) in results {
            if let error = result.error { errors[side, default: [:]][error.rawValue, default: 0] += 1 }
        }
        guard let baseline = results[.baseline], let candidate = results[.candidate] else {
            incomplete += 1
            return
        }
        errorTally.add(baseline: baseline, candidate: candidate, secondary: results[.secondary])
        let endpoint = endpointName(request)
        // A side that failed gave no decision: the error gate judges the pair, not the mismatch rate.
        guard baseline.error == nil, candidate.error == nil else {
            errorPairs += 1
            latency.add(endpoint: endpoint, baseline: baseline, candidate: candidate, secondary: nil)
            return
        }
        pairs += 1
        let preset = rules.preset.resolved(for: request)
        rulesApplied[preset, default: 0] += 1
        let location = Location(endpoint: endpoint, exchange: exchangeID, pass: pass)

        func prepare(_ result: SideResult) -> PreparedAnswer {
            answer(result.response, failure: result.error?.rawValue, side: result.side.rawValue, preset: preset, at: location)
        }
        let b = prepare(baseline)
        tally(.candidate, b, prepare(candidate), preset: preset, at: location)
        if let secondary = results[.secondary], secondary.error == nil {
            tally(.noise, b, prepare(secondary), preset: preset, at: location)
        }
        if let production, production.0 != nil || production.failure != nil {
            let p = answer(production.0, failure: production.failure, side: "production", preset: preset, at: location)
            tally(.production, p, b, preset: preset, at: location)
        }
        latency.add(endpoint: endpoint, baseline: baseline, candidate: candidate, secondary: results[.secondary])
    }

    /// The summary: significance against noise decided, latency judged, gates evaluated.
    public func finish() -> DiffSummary {
        var out = DiffSummary(rules: rules)
        out.pairs = pairs
        out.errorPairs = errorPairs
        out.incomplete = incomplete
        out.rulesApplied = Dictionary(uniqueKeysWithValues: rulesApplied.map { ($0.key.rawValue, $0.value) })
        let noise = tallies[.noise]
        out.noisePairs = noise?.pairs ?? 0
        let candidate = (tallies[.candidate] ?? ComparisonTally(sides: Comparison.candidate.sides)).summarize(noise: noise, rules: rules)
        out.mismatched = candidate.mismatched
        out.matched = pairs - candidate.mismatched
        out.mismatchRate = pairs == 0 ? 0 : Double(candidate.mismatched) / Double(pairs)
        out.groups = candidate.groups
        out.noisyGroups = candidate.noisyGroups
        out.kinds = candidate.kinds
        out.truncated = candidate.truncated
        if let noise {
            out.noise = noise.summarize(noise: nil, rules: rules).groups
        }
        if let production = tallies[.production] {
            let summary = production.summarize(noise: noise, rules: rules)
            out.production = DiffSummary.ProductionComparison(
                pairs: production.pairs, mismatched: summary.mismatched,
                mismatchRate: production.pairs == 0 ? 0 : Double(summary.mismatched) / Double(production.pairs),
                groups: summary.groups, noisyGroups: summary.noisyGroups)
        }
        out.errors = Dictionary(uniqueKeysWithValues: errors.map { ($0.key.rawValue, $0.value) })
        out.errorVerdict = errorTally.judge(maxExcessRate: rules.maxErrorRate)
        out.unparsable = unparsable
        out.latency = latency.judge(rules: rules)
        out.gates = gates(out)
        out.passed = out.gates.allSatisfy(\.passed)
        return out
    }

    private mutating func endpointName(_ request: RecordedRequest) -> String {
        let line = RequestLine(method: request.method, target: request.target)
        if let known = endpointNames[line] { return known }
        let name = EndpointName.of(method: request.method, path: request.path)
        if endpointNames.count >= Self.maxCachedEndpoints { endpointNames.removeAll(keepingCapacity: true) }
        endpointNames[line] = name
        return name
    }

    /// One side's answer made ready for comparing, with an unusable body counted for the side.
    private mutating func answer(
        _ response: RecordedResponse?, failure: String?, side: String, preset: RulePreset, at location: Location
    ) -> PreparedAnswer {
        let answer = PreparedAnswer(response: response, failure: failure, preset: preset)
        if let why = answer.unparsable { noteUnparsable(side, why, at: location) }
        return answer
    }

    private mutating func noteUnparsable(_ side: String, _ why: String, at location: Location) {
        var entry = unparsable[side] ?? DiffSummary.Unparsable(count: 0, firstReason: why, examples: [])
        entry.count += 1
        if entry.examples.count < rules.examplesPerGroup { entry.examples.append(location.exchange) }
        unparsable[side] = entry
    }

    private mutating func tally(_ comparison: Comparison, _ a: PreparedAnswer, _ b: PreparedAnswer, preset: RulePreset, at location: Location) {
        let (mismatches, truncated) = AnswerComparer.compare(a, b, preset: preset, rules: rules)
        tallies[comparison, default: ComparisonTally(sides: comparison.sides)].add(mismatches, truncated: truncated, at: location, examples: rules.examplesPerGroup)
    }

    private func gates(_ s: DiffSummary) -> [DiffSummary.Gate] {
        var gates = [DiffSummary.Gate(
            name: "mismatch rate", limit: percent(rules.maxMismatchRate), value: percent(s.mismatchRate),
            passed: s.mismatchRate <= rules.maxMismatchRate)]
        gates.append(s.errorVerdict.gate())
        gates += s.latency.gateLines(rules.latency)
        return gates
    }
}

/// Which two answers a comparison sets side by side.
enum Comparison: Sendable, Hashable {
    case candidate
    case noise
    case production

    var sides: (String, String) {
        switch self {
        case .candidate: ("baseline", "candidate")
        case .noise: ("baseline", "secondary")
        case .production: ("production", "baseline")
        }
    }
}

struct Location: Sendable {
    var endpoint: String
    var exchange: Int64
    var pass: Int
}

func percent(_ x: Double) -> String {
    String(format: "%.3g%%", x * 100)
}
