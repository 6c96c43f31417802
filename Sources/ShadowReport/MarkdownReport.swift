import Foundation
import ShadowDiff
import ShadowStats

/// The diff as GitHub-flavoured Markdown for a pull-request comment or a CI job summary: the
/// verdict, gates, latency per endpoint, the top mismatch groups and errors. Short by design;
/// the HTML and JSON reports have everything.
public enum MarkdownReport {
    /// Latency endpoints and mismatch groups listed; the rest are counted.
    static let maxRows = 10

    /// A short summary for a pull-request comment or a CI job summary (GitHub-flavoured Markdown).
    /// Every captured or configured string is escaped (`escape`) and example values are redacted
    /// and clipped, so no value can break a table, add markup, links or mentions.
    public static func render(
        _ summary: DiffSummary, facts: RunFacts, redaction: Redaction = Redaction(), htmlPath: String? = nil
    ) -> String {
        var sections = [heading(summary), runLine(summary, facts), gatesTable(summary.gates),
                        latencySection(summary.latency), mismatchSection(summary, redaction: redaction)]
        if let errors = errorsSection(summary) { sections.append(errors) }
        if let htmlPath { sections.append("Full report: \(escape(htmlPath))") }
        return sections.joined(separator: "\n\n") + "\n"
    }

    static func heading(_ s: DiffSummary) -> String {
        if s.passed { return "### ✅ ship: all \(s.gates.count) gates passed" }
        let failed = ReportText.failedGates(s)
        guard !failed.isEmpty else { return "### ❌ do not ship: the diff did not pass" }
        return "### ❌ do not ship: failed " + failed.map(escape).joined(separator: ", ")
    }

    static func runLine(_ s: DiffSummary, _ facts: RunFacts) -> String {
        "Run **\(escape(facts.run))**: \(s.pairs) pairs, \(s.mismatched) mismatched (\(ReportText.pct(s.mismatchRate)))"
            + " · baseline \(escape(facts.baseline)) vs candidate \(escape(facts.candidate))"
    }

    static func gatesTable(_ gates: [DiffSummary.Gate]) -> String {
        table(["gate", "value", "limit", "result"],
              gates.map { [$0.name, $0.value, $0.limit].map(escape) + [$0.passed ? "pass" : "**FAIL**"] })
    }

    static func latencySection(_ section: LatencySection) -> String {
        guard let overall = section.overall else { return "Latency: no pair where both sides answered; not analysed." }
        let header = ["endpoint", "pairs", "baseline p50", "baseline p99", "candidate p50", "candidate p99",
                      "Δp50 [95% CI]", "Δp99 [95% CI]", "verdict"]
        let shown = Array(prioritised(section.endpoints).prefix(maxRows))
        var out = "**Latency** (ms)\n\n" + table(header, ([overall] + shown).map(latencyRow))
        if section.endpoints.count > shown.count { out += "\n\n… \(section.endpoints.count - shown.count) more endpoints" }
        return out
    }

    /// Regressed endpoints first, then by pairs, so the cap never hides a regression.
    static func prioritised(_ endpoints: [LatencySection.Endpoint]) -> [LatencySection.Endpoint] {
        endpoints.enumerated().sorted { a, b in
            if a.element.regressed != b.element.regressed { return a.element.regressed }
            if a.element.pairs != b.element.pairs { return a.element.pairs > b.element.pairs }
            return a.offset < b.offset
        }.map(\.element)
    }

    static func latencyRow(_ e: LatencySection.Endpoint) -> [String] {
        let a = e.analysis
        func side(_ summary: LatencySummary, _ level: Percentile) -> String {
            summary.valueNs(at: level).map { ReportText.ms(Double($0)) } ?? "–"
        }
        func delta(_ level: Percentile) -> String {
            guard let d = a.percentileDelta(at: level) else { return "–" }
            return ReportText.delta(d.estimateNs, d.lowNs, d.highNs, unit: false) ?? "needs ≥ \(d.requiredPairs) pairs"
        }
        return [escape(e.endpoint), "\(e.pairs)", side(a.baseline, .p50), side(a.baseline, .p99),
                side(a.candidate, .p50), side(a.candidate, .p99), delta(.p50), delta(.p99), verdict(e.gates)]
    }

    /// `**regressed** p99`, `ok`, or `ok; p99 not judged`.
    static func verdict(_ gates: [GateVerdict]) -> String {
        let regressed = gates.filter(\.regressed).map(\.gate.percentile.label)
        if !regressed.isEmpty { return "**regressed** " + regressed.joined(separator: ", ") }
        let unjudged = gates.filter { !$0.judged }.map(\.gate.percentile.label)
        return unjudged.isEmpty ? "ok" : "ok; \(unjudged.joined(separator: ", ")) not judged"
    }

    static func mismatchSection(_ s: DiffSummary, redaction: Redaction) -> String {
        let noisy = s.noisyGroups.isEmpty ? "" : " (\(s.noisyGroups.count) more within noise, not counted)"
        guard !s.groups.isEmpty else { return "No mismatches beyond noise\(noisy)." }
        let rows = s.groups.prefix(maxRows).map { g in
            [g.endpoint, g.field, g.kind.rawValue].map(escape)
                + ["\(g.exchanges)", ReportText.pct(g.rate), g.noiseRate.map(ReportText.pct) ?? "–",
                   ReportText.example(g, redaction: redaction).map(escape) ?? "–"]
        }
        var out = "**Mismatch groups** beyond noise\(noisy)\n\n"
            + table(["endpoint", "field", "kind", "pairs", "rate", "noise rate", "example"], rows)
        if s.groups.count > maxRows { out += "\n\n… \(s.groups.count - maxRows) more groups" }
        return out
    }

    static func errorsSection(_ s: DiffSummary) -> String? {
        var lines = s.errors.sorted { $0.key < $1.key }.map { side, kinds in
            "- \(escape(side)): "
                + kinds.sorted { $0.key < $1.key }.map { "\(escape($0.key)) \($0.value)" }.joined(separator: ", ")
        }
        lines += s.unparsable.sorted { $0.key < $1.key }.map { side, u in
            "- \(escape(side)): \(u.count) bodies not JSON (first: \(escape(ReportText.clip(u.firstReason))))"
        }
        guard !lines.isEmpty else { return nil }
        let e = s.errorVerdict
        let rows = ([e.any].compactMap { $0 } + e.kinds).map { c in
            [escape(c.kind), "\(c.baselineFailed)", "\(c.candidateFailed)", ReportText.signedPct(c.excessRate),
             "[\(ReportText.signedPct(c.low)), \(ReportText.signedPct(c.high))]", c.regressed ? "**FAIL**" : "pass"]
        }
        return "**Errors** (judged apart from decisions: \(s.errorPairs) pairs where a side failed were not compared)\n\n"
            + lines.joined(separator: "\n") + "\n\n"
            + table(["kind", "baseline", "candidate", "excess", "95% interval", "result"], rows) + "\n\n"
            + escape(ReportText.errorVerdict(e))
    }

    /// A table whose cells are already escaped; every row gets as many cells as the header.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        func row(_ cells: [String]) -> String {
            let padded = cells + Array(repeating: "", count: max(0, header.count - cells.count))
            return "| " + padded.prefix(header.count).joined(separator: " | ") + " |"
        }
        return ([row(header), row(header.map { _ in "---" })] + rows.map(row)).joined(separator: "\n")
    }

    /// Text made inert in Markdown: `&`, `<`, `>` as entities; Markdown punctuation (`\`, `` ` ``,
    /// `*`, `_`, `[`, `]`, `|`, `~`, `#`, `$`, `:`, `@`, and `.` after `www`) backslash-escaped, so
    /// no emphasis, code, link, autolink, mention, issue reference or math starts and no table cell
    /// ends; control characters (newlines included) as their visible U+2400-block symbols, DEL,
    /// C1 controls, U+FFFE and U+FFFF as U+FFFD. The result fits on one line and inside a table cell.
    public static func escape(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\\", "`", "*", "_", "[", "]", "|", "~", "#", "$", ":", "@":
                out += "\\"
                out.unicodeScalars.append(scalar)
            case ".":
                if out.unicodeScalars.suffix(3).map({ $0.properties.lowercaseMapping }) == ["w", "w", "w"] { out += "\\" }
                out += "."
            default: out.unicodeScalars.append(HTMLText.visibleStandIn(for: scalar) ?? scalar)
            }
        }
        return out
    }
}
