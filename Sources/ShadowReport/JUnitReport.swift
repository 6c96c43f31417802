import Foundation
import ShadowDiff
import ShadowStats

/// The diff as JUnit XML for CI test dashboards. Three suites: `shadowdiff.gates` (one test case
/// per gate of the summary), `shadowdiff.latency` (one per endpoint, overall first, and latency
/// gate; fails when the gate regressed, passes with a `<system-out>` when it could not be judged)
/// and `shadowdiff.decisions` (one per endpoint; fails when the endpoint has mismatch groups
/// beyond noise). Counts in `tests` and `failures` are those of the test cases written.
public enum JUnitReport {
    /// Fields named in a decision failure's message, and groups listed in its body.
    static let maxMessageFields = 3
    static let maxBodyGroups = 5

    struct Failure {
        var message: String
        var body: String
    }

    struct TestCase {
        var name: String
        /// Nil when the test passed.
        var failure: Failure?
        var output: String?
    }

    struct Suite {
        var name: String
        var cases: [TestCase]
        var failures: Int { cases.filter { $0.failure != nil }.count }
    }

    /// JUnit XML: one test case per gate, and per endpoint and gate; failures carry a message.
    /// Example values are redacted and clipped; all text is escaped for XML 1.0 (`escape`).
    public static func render(_ summary: DiffSummary, facts: RunFacts, redaction: Redaction = Redaction()) -> String {
        let suites = [
            Suite(name: "shadowdiff.gates", cases: gateCases(summary.gates)),
            Suite(name: "shadowdiff.latency", cases: latencyCases(summary.latency, thresholds: summary.rules.latency)),
            Suite(name: "shadowdiff.decisions", cases: decisionCases(summary, redaction: redaction)),
            Suite(name: "shadowdiff.errors", cases: errorCases(summary.errorVerdict)),
        ]
        let tests = suites.map(\.cases.count).reduce(0, +)
        let failures = suites.map(\.failures).reduce(0, +)
        var out = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        out += "<testsuites name=\"shadowdiff\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"0\" time=\"0\""
            + " timestamp=\"\(escape(facts.startedAt, attribute: true))\">\n"
        for (index, suite) in suites.enumerated() {
            out += xml(suite, timestamp: facts.startedAt, properties: index == 0 ? properties(facts) : [])
        }
        return out + "</testsuites>\n"
    }

    /// One test case per error kind either side had (none when nothing failed): failed when the
    /// candidate's excess error rate regressed.
    static func errorCases(_ e: ErrorSection) -> [TestCase] {
        e.kinds.map { c in
            let text = ReportText.errorComparison(c) + " (limit \(ReportText.pct(e.maxExcessRate)) at the 95% lower bound)"
            return c.regressed
                ? TestCase(name: c.kind, failure: Failure(message: "\(c.kind): regressed: \(text)", body: text))
                : TestCase(name: c.kind, output: "ok: " + text)
        }
    }

    static func gateCases(_ gates: [DiffSummary.Gate]) -> [TestCase] {
        gates.map { gate in
            let text = "\(gate.value) (limit \(gate.limit))"
            return gate.passed
                ? TestCase(name: gate.name, output: text)
                : TestCase(name: gate.name, failure: Failure(message: "\(gate.name): \(text)", body: text))
        }
    }

    /// Overall first, then each endpoint; without any analysed pair, one passing case per
    /// configured gate saying so.
    static func latencyCases(_ section: LatencySection, thresholds: [LatencyThreshold]) -> [TestCase] {
        guard let overall = section.overall else {
            return thresholds.map {
                TestCase(name: "overall \(ReportText.label($0))", output: "not judged: no pair where both sides answered")
            }
        }
        return ([overall] + section.endpoints).flatMap { endpoint in
            endpoint.gates.map { latencyCase(endpoint: endpoint.endpoint, $0) }
        }
    }

    static func latencyCase(endpoint: String, _ v: GateVerdict) -> TestCase {
        let name = "\(endpoint) \(v.gate.percentile.label)"
        guard v.judged else { return TestCase(name: name, output: "not judged: \(v.reason ?? "too few pairs")") }
        let label = v.gate.percentile.label
        let estimate = ReportText.delta(v.estimateNs, v.lowNs, v.highNs) ?? "–"
        let threshold = "threshold \(ReportText.ms(v.thresholdNs ?? 0, signed: true)) ms (\(v.gate))"
        let evidence = "95% lower bound \(ReportText.ms(v.lowNs ?? 0, signed: true)) ms, "
            + "adjusted p \(String(format: "%.3g", v.adjustedPValue ?? 1))"
            + (v.familySize > 1 ? " (Holm over \(v.familySize) endpoints)" : "")
        let baseline = v.baselineValueNs.map { "; baseline \(label) \(ReportText.ms(Double($0))) ms" } ?? ""
        guard v.regressed else {
            return TestCase(name: name, output: "ok: Δ\(label) \(estimate), \(threshold); \(evidence)\(baseline)")
        }
        let message = "\(endpoint) \(label) regressed: Δ\(label) \(estimate) above \(threshold)"
        return TestCase(name: name, failure: Failure(message: message, body: "\(message); \(evidence)\(baseline)"))
    }

    static func decisionCases(_ s: DiffSummary, redaction: Redaction) -> [TestCase] {
        ReportText.endpoints(s).map { endpoint in
            decisionCase(endpoint: endpoint, groups: s.groups.filter { $0.endpoint == endpoint },
                         noisy: s.noisyGroups.filter { $0.endpoint == endpoint }, redaction: redaction)
        }
    }

    static func decisionCase(endpoint: String, groups: [DiffSummary.Group], noisy: [DiffSummary.Group],
                             redaction: Redaction) -> TestCase {
        guard !groups.isEmpty else {
            let output = noisy.isEmpty
                ? "no differences beyond noise"
                : "no differences beyond noise; within noise: " + noisy.map(rate).joined(separator: ", ")
            return TestCase(name: endpoint, output: output)
        }
        let top = groups.prefix(maxMessageFields).map(rate).joined(separator: ", ")
        let more = groups.count > maxMessageFields ? " and \(groups.count - maxMessageFields) more" : ""
        let message = "\(endpoint): \(groups.count) difference groups beyond noise: \(top)\(more)"
        let lines = groups.prefix(maxBodyGroups).map { g in
            "\(rate(g)) in \(g.exchanges) pairs (\(g.kind.rawValue))"
                + (ReportText.example(g, redaction: redaction).map { "; e.g. \($0)" } ?? "")
        }
        return TestCase(name: endpoint, failure: Failure(message: message, body: lines.joined(separator: "\n")))
    }

    /// `/imp/*/price 10.00%`, with the noise rate when measured.
    static func rate(_ g: DiffSummary.Group) -> String {
        "\(g.field) \(ReportText.pct(g.rate))" + (g.noiseRate.map { " (noise \(ReportText.pct($0)))" } ?? "")
    }

    static func properties(_ facts: RunFacts) -> [(String, String)] {
        [("run", facts.run), ("database", facts.database), ("status", facts.status), ("baseline", facts.baseline),
         ("candidate", facts.candidate)] + (facts.secondary.map { [("secondary", $0)] } ?? [])
    }

    static func xml(_ suite: Suite, timestamp: String, properties: [(String, String)]) -> String {
        var out = "  <testsuite name=\"\(escape(suite.name))\" tests=\"\(suite.cases.count)\" failures=\"\(suite.failures)\""
            + " errors=\"0\" skipped=\"0\" time=\"0\" timestamp=\"\(escape(timestamp, attribute: true))\">\n"
        if !properties.isEmpty {
            out += "    <properties>\n"
            for (name, value) in properties {
                out += "      <property name=\"\(escape(name, attribute: true))\" value=\"\(escape(value, attribute: true))\"/>\n"
            }
            out += "    </properties>\n"
        }
        for test in suite.cases { out += xml(test, classname: suite.name) }
        return out + "  </testsuite>\n"
    }

    static func xml(_ test: TestCase, classname: String) -> String {
        let open = "    <testcase name=\"\(escape(test.name, attribute: true))\""
            + " classname=\"\(escape(classname, attribute: true))\" time=\"0\""
        var body = ""
        if let failure = test.failure {
            body += "      <failure message=\"\(escape(failure.message, attribute: true))\" type=\"shadowdiff\">"
                + escape(failure.body) + "</failure>\n"
        }
        if let output = test.output { body += "      <system-out>\(escape(output))</system-out>\n" }
        return body.isEmpty ? open + "/>\n" : open + ">\n" + body + "    </testcase>\n"
    }

    /// Text safe in XML 1.0 element content and, with `attribute`, in a double- or single-quoted
    /// attribute value: `&`, `<`, `>`, `"` and `'` as entities; characters XML 1.0 does not allow
    /// (C0 controls other than tab, newline and carriage return; U+FFFE and U+FFFF) removed;
    /// carriage return as `&#13;`, and in attributes tab and newline as `&#9;` and `&#10;` so a
    /// parser keeps them instead of normalising them to spaces.
    public static func escape(_ text: some StringProtocol, attribute: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            case "\t": out += attribute ? "&#9;" : "\t"
            case "\n": out += attribute ? "&#10;" : "\n"
            default:
                if scalar.value >= 0x20 && scalar.value != 0xFFFE && scalar.value != 0xFFFF {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
