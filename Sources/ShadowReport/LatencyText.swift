import Foundation
import ShadowDiff
import ShadowStats

/// The latency block of the terminal summary: percentiles per side, the paired deltas with their
/// intervals, the shift and signed-rank test, and the verdict per gate.
enum LatencyText {
    static func render(_ section: LatencySection) -> String {
        var out = "\n"
        guard let overall = section.overall else {
            out += "latency: no pair where both sides answered; not analysed\n"
            return out
        }
        let levels = overall.analysis.baseline.percentiles.map(\.percentile)
        out += "latency (ms)".padding(26) + "pairs" + levels.map { $0.label.leftPadding(9) }.joined() + "\n"
        for endpoint in [overall] + section.endpoints {
            out += block(endpoint)
        }
        if let s = section.secondary {
            out += "  noise: baseline vs secondary over \(s.pairCount) pairs: "
                + s.percentileDeltas.map { "Δ\($0.percentile.label) " + ReportText.interval($0.estimateNs, $0.lowNs, $0.highNs, $0.unavailableReason, unit: false) }
                    .joined(separator: ", ") + "\n"
        }
        if !section.skippedPairs.isEmpty {
            out += "  left out: " + section.skippedPairs.sorted { $0.key < $1.key }.map { "\($0.value) pairs (\($0.key))" }
                .joined(separator: ", ") + "\n"
        }
        for note in section.notes { out += "  note: \(note)\n" }
        return out
    }

    private static func block(_ e: LatencySection.Endpoint) -> String {
        let a = e.analysis
        var out = "  \(e.endpoint)\n"
        for (side, summary) in [("baseline", a.baseline), ("candidate", a.candidate)] {
            out += "    \(side.padding(20))\(String(summary.sampleCount).leftPadding(7))"
                + summary.percentiles.map { ($0.valueNs.map { String(format: "%.3f", Double($0) / 1e6) } ?? "-").leftPadding(9) }.joined()
                + "\n"
        }
        let deltas = a.percentileDeltas.map { "Δ\($0.percentile.label) " + ReportText.interval($0.estimateNs, $0.lowNs, $0.highNs, $0.unavailableReason, unit: false) }
        out += "    paired, 95% intervals: " + deltas.joined(separator: "   ") + "\n"
        let shift = "shift (Hodges-Lehmann) " + ReportText.interval(a.shift.estimateNs, a.shift.lowNs, a.shift.highNs, a.shift.unavailableReason, unit: false)
        let ratio = a.ratio.percentiles.first { $0.percentile == .p50 }?.ratio.map { String(format: "median ratio %.3f", $0) } ?? ""
        out += "    \(shift), Wilcoxon signed-rank p = \(String(format: "%.2g", a.wilcoxon.pValueTwoSided)), \(ratio)\n"
        for gate in e.gates {
            let what: String
            if !gate.judged {
                what = "not judged: \(gate.reason ?? "too few pairs")"
            } else {
                what = (gate.regressed ? "REGRESSED" : "ok") + String(format: " (lower bound %@ vs threshold %@, adjusted p %.3g)",
                    ReportText.ms(gate.lowNs ?? 0, signed: true), ReportText.ms(gate.thresholdNs ?? 0, signed: true), gate.adjustedPValue ?? 1)
            }
            out += "    \(gate.gate.percentile.label) gate: \(what)\n"
        }
        return out
    }
}
