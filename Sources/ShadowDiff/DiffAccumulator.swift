import Foundation
import ShadowCore

/// Folds compared pairs into a `DiffSummary`, one exchange at a time, in memory bounded by the
/// number of distinct groups (examples are capped).
public struct DiffAccumulator: Sendable {
    public let options: DiffOptions
    private var summary = DiffSummary()
    private var latency: [Side: LatencyRecorder] = [:]
    private var kinds: [MismatchKind: DiffSummary.KindCount] = [:]
    private var groups: [GroupKey: DiffSummary.Group] = [:]
    private var pairsPerEndpoint: [String: Int64] = [:]

    private struct GroupKey: Hashable {
        var endpoint: String
        var kind: MismatchKind
        var field: String
    }

    public init(options: DiffOptions) {
        self.options = options
    }

    /// Adds one exchange. Sides missing from `results` make it incomplete (counted, not compared).
    public mutating func add(exchangeID: Int64, request: RecordedRequest, results: [Side: SideResult]) {
        for (side, result) in results {
            if let error = result.error {
                summary.errors[side.rawValue, default: [:]][error.rawValue, default: 0] += 1
            } else if let ns = result.latencyNs {
                latency[side, default: LatencyRecorder()].record(ns: ns)
            }
        }
        guard let baseline = results[.baseline], let candidate = results[.candidate] else {
            summary.incomplete += 1
            return
        }
        let endpoint = "\(request.method) \(request.path)"
        summary.pairs += 1
        pairsPerEndpoint[endpoint, default: 0] += 1
        let (rules, mismatches) = PairComparer.compare(request: request, baseline: baseline, candidate: candidate, options: options)
        summary.rulesApplied[rules.rawValue, default: 0] += 1
        guard !mismatches.isEmpty else {
            summary.matched += 1
            return
        }
        summary.mismatched += 1
        var kindsSeen = Set<MismatchKind>(), groupsSeen = Set<GroupKey>()
        for mismatch in mismatches {
            let firstOfKind = kindsSeen.insert(mismatch.kind).inserted
            var kind = kinds[mismatch.kind] ?? DiffSummary.KindCount(kind: mismatch.kind, count: 0, exchanges: 0, examples: [])
            kind.count += 1
            if firstOfKind {
                kind.exchanges += 1
                if kind.examples.count < options.examplesPerGroup { kind.examples.append(exchangeID) }
            }
            kinds[mismatch.kind] = kind

            let key = GroupKey(endpoint: endpoint, kind: mismatch.kind, field: mismatch.field)
            let firstOfGroup = groupsSeen.insert(key).inserted
            var group = groups[key] ?? DiffSummary.Group(
                endpoint: endpoint, kind: mismatch.kind, field: mismatch.field, count: 0, exchanges: 0, rate: 0, examples: [])
            group.count += 1
            if firstOfGroup {
                group.exchanges += 1
                if group.examples.count < options.examplesPerGroup {
                    group.examples.append(DiffSummary.Example(
                        exchange: exchangeID, impression: mismatch.impression, baseline: mismatch.baseline,
                        candidate: mismatch.candidate))
                }
            }
            groups[key] = group
        }
    }

    /// The summary with gates evaluated.
    public func finish() -> DiffSummary {
        var out = summary
        out.kinds = MismatchKind.allCases.compactMap { kinds[$0] }
        out.groups = groups.values.map { group in
            var g = group
            g.rate = Double(g.exchanges) / Double(max(1, pairsPerEndpoint[g.endpoint] ?? 1))
            return g
        }.sorted { ($0.count, $1.endpoint, $1.field) > ($1.count, $0.endpoint, $0.field) }
        for side in Side.allCases {
            if let recorder = latency[side] { out.latency[side.rawValue] = recorder.summary }
        }
        out.gates = gates(out)
        return out
    }

    private func gates(_ s: DiffSummary) -> [DiffSummary.Gate] {
        var gates = [DiffSummary.Gate(
            name: "mismatch rate", limit: percent(options.maxMismatchRate), value: percent(s.mismatchRate),
            passed: s.mismatchRate <= options.maxMismatchRate)]
        let b = s.latency[Side.baseline.rawValue]?.p99Ns, c = s.latency[Side.candidate.rawValue]?.p99Ns
        if let b, let c {
            let allowed = max(Double(b) * options.maxP99Regression, options.minP99RegressionMs * 1e6)
            let delta = Double(c) - Double(b)
            gates.append(DiffSummary.Gate(
                name: "p99 regression",
                limit: "+max(\(percent(options.maxP99Regression)), \(options.minP99RegressionMs) ms)",
                value: String(format: "%+.3f ms (%+.1f%%)", delta / 1e6, b == 0 ? 0 : delta / Double(b) * 100),
                passed: delta <= allowed))
        }
        return gates
    }

    private func percent(_ x: Double) -> String {
        String(format: "%.2f%%", x * 100)
    }
}
