import Foundation
import ShadowStats

/// The latency part of a diff: a paired analysis overall and per endpoint (percentiles per side,
/// per-request ratio, Wilcoxon signed-rank, Hodges–Lehmann shift, bootstrap intervals of the
/// percentile deltas), the verdict per gate with Holm's correction across endpoints, and the
/// same analysis of baseline vs secondary, which shows what two instances of one build differ by.
public struct LatencySection: Sendable, Codable {
    public struct Endpoint: Sendable, Codable {
        /// `overall`, or method and path template.
        public var endpoint: String
        public var pairs: Int
        public var regressed: Bool
        public var gates: [GateVerdict]
        public var analysis: PairedLatencyAnalysis
    }

    /// One-sided level of each test (0.025: the lower bound of a two-sided 95% interval).
    public var alpha = LatencyVerdict.defaultAlpha
    public var regressed = false
    /// Nil when no pair had both latencies.
    public var overall: Endpoint?
    public var endpoints: [Endpoint] = []
    /// Baseline vs secondary, when the run has a secondary: a regression here means the
    /// environment, not the candidate, moves latency.
    public var secondary: PairedLatencyAnalysis?
    /// Every pair's latencies per side (and the secondary's), binned and as CDF points, for charts.
    public var distribution: LatencyDistribution?
    /// Pairs left out of the analysis, by reason (`a side failed`, `no latency recorded`).
    public var skippedPairs: [String: Int64] = [:]
    public var notes: [String] = []

    public init() {}

    /// One line per latency gate for the summary's gate list: the overall interval against its
    /// threshold and any endpoint that regressed. Passes when neither overall nor any endpoint
    /// regressed; a gate that could not be judged passes and says why.
    func gateLines(_ thresholds: [LatencyThreshold]) -> [DiffSummary.Gate] {
        thresholds.enumerated().map { index, threshold in
            let limit = "+max(\(percent(threshold.relative)), \(threshold.absoluteMs) ms) at the 95% lower bound, Holm across endpoints"
            guard let overall, index < overall.gates.count else {
                return DiffSummary.Gate(
                    name: "latency \(threshold.name)", limit: limit, value: "not judged: no pair with both latencies", passed: true)
            }
            let gate = overall.gates[index]
            let regressed = endpoints.filter { $0.gates.first { $0.gate == gate.gate }?.regressed == true }
            var value: String
            if gate.judged, let estimate = gate.estimateNs, let low = gate.lowNs, let high = gate.highNs {
                value = "Δ\(threshold.name) \(ms(estimate)) [\(ms(low)), \(ms(high))] vs threshold \(ms(gate.thresholdNs ?? 0))"
            } else {
                value = "not judged: \(gate.reason ?? "too few pairs")"
            }
            if !regressed.isEmpty { value += "; regressed: " + regressed.map(\.endpoint).joined(separator: ", ") }
            return DiffSummary.Gate(
                name: "latency \(threshold.name)", limit: limit, value: value, passed: !gate.regressed && regressed.isEmpty)
        }
    }
}

extension LatencySamples {
    /// Analyses every endpoint and all of them together, and judges the gates of `rules`.
    func judge(rules: DiffRules) -> LatencySection {
        var section = LatencySection()
        section.skippedPairs = skipped
        let gates = rules.latency.map {
            LatencyGate(
                percentile: Percentile(partsPerMillion: Int(($0.percentile * 1_000_000).rounded())),
                relativeFraction: $0.relative, absoluteNs: Int64(($0.absoluteMs * 1_000_000).rounded()))
        }
        let options = PairedLatencyAnalysis.Options(
            gates: gates, bootstrap: PairedBootstrap.Configuration(resamples: rules.bootstrapResamples, seed: rules.seed))
        func analyse(_ pairs: Pairs, _ name: String) -> PairedLatencyAnalysis? {
            do {
                return try PairedLatencyAnalysis(baseline: pairs.baseline, candidate: pairs.candidate, options: options)
            } catch {
                section.notes.append("\(name): not analysed: \(error)")
                return nil
            }
        }
        var all = Pairs()
        let names = byEndpoint.keys.sorted()
        for name in names {
            all.baseline += byEndpoint[name]!.baseline
            all.candidate += byEndpoint[name]!.candidate
        }
        guard !all.baseline.isEmpty, let overall = analyse(all, "overall") else { return section }
        let endpoints: [(name: String, analysis: PairedLatencyAnalysis)] = names.count > 1
            ? names.compactMap { name in analyse(byEndpoint[name]!, name).map { (name, $0) } }
            : []
        let verdict = LatencyVerdict(overall: overall, endpoints: endpoints)
        section.alpha = verdict.alpha
        section.regressed = verdict.regressed
        section.notes += verdict.notes
        section.overall = LatencySection.Endpoint(
            endpoint: "overall", pairs: overall.pairCount, regressed: verdict.overall.regressed, gates: verdict.overall.gates,
            analysis: overall)
        section.endpoints = zip(verdict.endpoints, endpoints).map { v, e in
            LatencySection.Endpoint(endpoint: e.name, pairs: v.pairCount, regressed: v.regressed, gates: v.gates, analysis: e.analysis)
        }
        if !secondary.baseline.isEmpty { section.secondary = analyse(secondary, "secondary") }
        var series = [(name: "baseline", sortedNs: RadixSort.sorted(all.baseline)), (name: "candidate", sortedNs: RadixSort.sorted(all.candidate))]
        if !secondary.candidate.isEmpty { series.append((name: "secondary", sortedNs: RadixSort.sorted(secondary.candidate))) }
        section.distribution = LatencyDistribution(series: series)
        return section
    }
}

/// Milliseconds with sign and three decimals: `+0.125 ms`.
func ms(_ ns: Double) -> String {
    String(format: "%+.3f ms", ns / 1e6)
}
