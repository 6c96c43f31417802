import Foundation
import ShadowDiff
import ShadowStats

/// Formatting shared by every report (terminal, HTML, Markdown, JUnit). Produces plain text;
/// each report escapes it for its own format.
enum ReportText {
    /// Longest captured value shown, in characters.
    static let valueLimit = 80

    /// `text` cut to `limit` characters, ending in `…` when cut.
    static func clip(_ text: String, limit: Int = valueLimit) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// A group's first example as `#id: baseline → candidate`, values redacted at their path and
    /// clipped; nil when the group kept no example.
    static func example(_ group: DiffSummary.Group, sides: (String, String) = ("baseline", "candidate"),
                        redaction: Redaction) -> String? {
        guard let e = group.examples.first else { return nil }
        let path = e.path ?? group.field
        func value(_ side: String) -> String {
            clip(redaction.apply(value: e.values[side] ?? "?", at: path))
        }
        return "#\(e.exchange): \(value(sides.0)) → \(value(sides.1))"
    }

    static func pct(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

    /// A percentage with its sign: `+1.00%`.
    static func signedPct(_ x: Double) -> String { String(format: "%+.2f%%", x * 100) }

    /// One error comparison: each side's failures and the candidate's excess with its interval,
    /// e.g. `candidate 10 (1.00%), baseline 0 (0.00%): excess +1.00% [+0.39%, +1.83%]`.
    static func errorComparison(_ c: ErrorSection.Comparison, other: String = "candidate") -> String {
        let n = Double(max(1, c.pairs))
        return "\(other) \(c.candidateFailed) (\(pct(Double(c.candidateFailed) / n))), baseline \(c.baselineFailed) "
            + "(\(pct(Double(c.baselineFailed) / n))): excess \(signedPct(c.excessRate)) [\(signedPct(c.low)), \(signedPct(c.high))]"
    }

    /// The error gate's verdict in words.
    static func errorVerdict(_ e: ErrorSection) -> String {
        let limit = pct(e.maxExcessRate)
        if e.regressed {
            let kinds = e.kinds.filter(\.regressed).map(\.kind)
            return "FAIL: the candidate fails more than the baseline by over \(limit) at the 95% lower bound"
                + (kinds.isEmpty ? "" : " (" + kinds.joined(separator: ", ") + ")")
        }
        return "pass: no evidence that the candidate fails more than the baseline by over \(limit)"
    }

    /// Milliseconds with three decimals, signed when `signed`: `+0.125`.
    static func ms(_ ns: Double, signed: Bool = false) -> String {
        String(format: signed ? "%+.3f" : "%.3f", ns / 1e6)
    }

    /// `+2.000 ms [+1.990, +2.010]` (the unit left out when `unit` is false), or just the estimate
    /// when there is no interval; nil without an estimate.
    static func delta(_ estimate: Double?, _ low: Double?, _ high: Double?, unit: Bool = true) -> String? {
        guard let estimate else { return nil }
        let value = ms(estimate, signed: true) + (unit ? " ms" : "")
        guard let low, let high else { return value }
        return "\(value) [\(ms(low, signed: true)), \(ms(high, signed: true))]"
    }

    /// `delta` with the unit, or `– (why)` when there is no estimate.
    static func interval(_ estimate: Double?, _ low: Double?, _ high: Double?, _ reason: String?, unit: Bool = true) -> String {
        delta(estimate, low, high, unit: unit) ?? "– (\(reason ?? "not available"))"
    }

    /// The label of a rules-file percentile (0.99 → `p99`).
    static func label(_ threshold: LatencyThreshold) -> String {
        Percentile(partsPerMillion: Int((threshold.percentile * 1_000_000).rounded())).label
    }

    /// Every endpoint named by a mismatch group, a noisy group or the latency section, sorted.
    static func endpoints(_ s: DiffSummary) -> [String] {
        Set(s.groups.map(\.endpoint) + s.noisyGroups.map(\.endpoint) + s.latency.endpoints.map(\.endpoint)).sorted()
    }

    /// The failed gates' names, in the summary's order.
    static func failedGates(_ s: DiffSummary) -> [String] {
        s.gates.filter { !$0.passed }.map(\.name)
    }
}
