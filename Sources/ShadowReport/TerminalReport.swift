import Foundation
import ShadowDiff

/// Facts about the run a report is about.
public struct RunFacts: Sendable, Codable {
    public var database: String
    public var run: String
    public var startedAt: String
    public var finishedAt: String?
    public var status: String
    public var baseline: String
    public var candidate: String
    public var secondary: String?
    /// What was replayed, e.g. `capture 1 (pcap captures/sample.pcap, 520 exchanges)`.
    public var capture: String?
    /// Requests the run sent (each to every side), from its counters.
    public var requests: Int64?
    /// Requests per second over the run's wall-clock time.
    public var ratePerSecond: Double?
    /// The timing mode as given, e.g. `--concurrency 4`.
    public var timing: String?
    /// The run's stored configuration (JSON), for the record.
    public var configuration: String?
    /// What the capture could not use and what the replay did not send or sent late, by stage
    /// (`capture 1`, `replay`) and reason, as their stored counters say.
    public var drops: [Drop] = []

    public struct Drop: Sendable, Codable, Equatable {
        public var stage: String
        public var reason: String
        public var count: Int64

        public init(stage: String, reason: String, count: Int64) {
            self.stage = stage
            self.reason = reason
            self.count = count
        }
    }

    public init(
        database: String, run: String, startedAt: String, status: String, baseline: String, candidate: String,
        secondary: String? = nil
    ) {
        self.database = database
        self.run = run
        self.startedAt = startedAt
        self.status = status
        self.baseline = baseline
        self.candidate = candidate
        self.secondary = secondary
    }
}

/// The plain-text summary `shadowdiff diff` prints: counts, mismatch groups beyond noise,
/// production fidelity, latency verdicts, gates and the verdict line.
public enum TerminalReport {
    /// Groups listed per section; the JSON report has them all.
    static let maxGroups = 20

    public static func render(_ s: DiffSummary, facts: RunFacts) -> String {
        var out = ""
        func line(_ text: String = "") { out += text + "\n" }
        line("shadowdiff diff: run '\(facts.run)' in \(facts.database) (\(facts.status), started \(facts.startedAt))")
        line("  baseline  \(facts.baseline)")
        line("  candidate \(facts.candidate)")
        if let secondary = facts.secondary { line("  secondary \(secondary)") }
        line()
        line("pairs compared   \(s.pairs)" + (s.errorPairs > 0 ? " (and \(s.errorPairs) where a side failed: see errors)" : ""))
        line("matched          \(s.matched)")
        line("mismatched       \(s.mismatched) (\(ReportText.pct(s.mismatchRate)))")
        if s.incomplete > 0 { line("incomplete       \(s.incomplete) (a side has no result; not compared)") }
        line("rules applied    " + s.rulesApplied.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        line(s.noisePairs > 0
            ? "noise            measured on \(s.noisePairs) baseline-secondary pairs; \(s.noisyGroups.count) candidate difference groups explained by it"
            : "noise            not measured (replay with --secondary to measure it)")
        let t = s.truncated
        if t.pairsWithCappedDifferences + t.ungroupedMismatches + t.untrackedMismatchedPairs > 0 {
            line("not itemised     \(t.pairsWithCappedDifferences) pairs with over 64 differences (rest not listed), \(t.ungroupedMismatches) mismatches past the group cap, \(t.untrackedMismatchedPairs) pairs counted mismatched untracked")
        }
        if !s.errors.isEmpty {
            line()
            line("errors (judged apart from decisions: \(s.errorPairs) pairs where a side failed were not compared)")
            for (side, kinds) in s.errors.sorted(by: { $0.key < $1.key }) {
                line("  \(side.padding(10)) " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
            for c in [s.errorVerdict.any].compactMap({ $0 }) + s.errorVerdict.kinds {
                line("  \(c.kind.padding(20)) " + ReportText.errorComparison(c) + (c.regressed ? "  REGRESSED" : ""))
            }
            if let secondary = s.errorVerdict.secondary {
                line("  \("noise (secondary)".padding(20)) " + ReportText.errorComparison(secondary, other: "secondary"))
            }
            line("  " + ReportText.errorVerdict(s.errorVerdict))
        }
        if !s.unparsable.isEmpty {
            line()
            line("bodies that are not JSON where JSON was expected")
            for (side, u) in s.unparsable.sorted(by: { $0.key < $1.key }) {
                line("  \(side.padding(10)) \(u.count), first: \(u.firstReason); e.g. " + u.examples.map { "#\($0)" }.joined(separator: " "))
            }
        }
        if !s.groups.isEmpty {
            line()
            line("mismatches by kind          count  exchanges  examples")
            for k in s.kinds {
                line("  \(k.kind.rawValue.padding(24)) \(String(k.count).leftPadding(6)) \(String(k.exchanges).leftPadding(10))  "
                    + k.examples.map { "#\($0)" }.joined(separator: " "))
            }
            groups("mismatches by endpoint and field (beyond noise)", s.groups, sides: ("baseline", "candidate"), into: &out)
        }
        if !s.noisyGroups.isEmpty {
            groups("noisy fields (candidate differences within baseline-secondary noise; not counted)", s.noisyGroups,
                   sides: ("baseline", "candidate"), into: &out)
        }
        if let p = s.production {
            line()
            line("production vs baseline replay: \(p.mismatched) of \(p.pairs) pairs differ (\(ReportText.pct(p.mismatchRate)))")
            groups("  by endpoint and field", p.groups, sides: ("production", "baseline"), into: &out)
        }
        out += LatencyText.render(s.latency)
        line()
        line("gates")
        for gate in s.gates {
            line("  \(gate.passed ? "pass" : "FAIL")  \(gate.name.padding(22)) \(gate.value)  (limit \(gate.limit))")
        }
        line()
        line(s.passed ? "verdict: PASS (exit 0)" : "verdict: FAIL, a gate was crossed (exit 1)")
        return out
    }

    private static func groups(_ title: String, _ groups: [DiffSummary.Group], sides: (String, String), into out: inout String) {
        guard !groups.isEmpty else { return }
        out += "\n\(title)\n"
        for g in groups.prefix(maxGroups) {
            let noise = g.noiseRate.map { ", noise \(ReportText.pct($0))" } ?? ""
            let example = g.examples.first.map { e in
                let at = e.impression.map { " imp \($0)" } ?? e.path.map { " \($0)" } ?? ""
                return "e.g. #\(e.exchange)\(at): \(e.values[sides.0] ?? "?") -> \(e.values[sides.1] ?? "?")"
            } ?? ""
            out += "  \(g.endpoint) \(g.field)  \(g.exchanges) pairs (\(ReportText.pct(g.rate))\(noise))  \(example)\n"
        }
        if groups.count > maxGroups { out += "  ... \(groups.count - maxGroups) more groups in the JSON report\n" }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
