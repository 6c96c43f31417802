import Foundation
import ShadowDiff

/// Facts about the run a report is about.
public struct RunFacts: Sendable, Codable {
    public var database: String
    public var run: String
    public var startedAt: String
    public var status: String
    public var baseline: String
    public var candidate: String

    public init(database: String, run: String, startedAt: String, status: String, baseline: String, candidate: String) {
        self.database = database
        self.run = run
        self.startedAt = startedAt
        self.status = status
        self.baseline = baseline
        self.candidate = candidate
    }
}

/// The plain-text summary `shadowdiff diff` prints.
public enum TerminalReport {
    public static func render(_ s: DiffSummary, facts: RunFacts) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        line("shadowdiff diff: run '\(facts.run)' in \(facts.database) (\(facts.status), started \(facts.startedAt))")
        line("  baseline  \(facts.baseline)")
        line("  candidate \(facts.candidate)")
        line()
        line("pairs compared   \(s.pairs)")
        line("matched          \(s.matched)")
        line("mismatched       \(s.mismatched) (\(pct(s.mismatchRate)))")
        if s.incomplete > 0 { line("incomplete       \(s.incomplete) (a side has no result; not compared)") }
        line("rules applied    " + s.rulesApplied.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if !s.errors.isEmpty {
            line()
            line("errors")
            for (side, kinds) in s.errors.sorted(by: { $0.key < $1.key }) {
                line("  \(side.padding(10)) " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
        }
        if !s.kinds.isEmpty {
            line()
            line("mismatches by kind          count  exchanges  examples")
            for k in s.kinds {
                line("  \(k.kind.rawValue.padding(24)) \(String(k.count).leftPadding(6)) \(String(k.exchanges).leftPadding(10))  "
                    + k.examples.map { "#\($0)" }.joined(separator: " "))
            }
            line()
            line("mismatches by endpoint and field")
            for g in s.groups.prefix(20) {
                let example = g.examples.first.map { e in
                    "e.g. #\(e.exchange)\(e.impression.map { " imp \($0)" } ?? ""): \(e.baseline) -> \(e.candidate)"
                } ?? ""
                line("  \(g.endpoint) \(g.field)  \(g.count) in \(g.exchanges) exchanges (\(pct(g.rate)))  \(example)")
            }
            if s.groups.count > 20 { line("  ... \(s.groups.count - 20) more groups in the JSON report") }
        }
        line()
        line("latency (ms)        n      p50      p90      p99      max")
        for side in ["baseline", "candidate", "secondary"] {
            guard let l = s.latency[side] else { continue }
            line("  \(side.padding(10)) \(String(l.count).leftPadding(6)) \(ms(l.p50Ns)) \(ms(l.p90Ns)) \(ms(l.p99Ns)) \(ms(l.maxNs))")
        }
        line()
        line("gates")
        for gate in s.gates {
            line("  \(gate.passed ? "pass" : "FAIL")  \(gate.name.padding(16)) \(gate.value)  (limit \(gate.limit))")
        }
        line()
        line(s.passed ? "verdict: PASS (exit 0)" : "verdict: FAIL, a gate was crossed (exit 1)")
        return out
    }

    static func pct(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

    static func ms(_ ns: UInt64?) -> String {
        (ns.map { String(format: "%.3f", Double($0) / 1e6) } ?? "-").leftPadding(8)
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    fileprivate func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
