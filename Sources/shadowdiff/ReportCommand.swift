import ArgumentParser
import ShadowDiff

/// `shadowdiff report --db DB [--run NAME] --html FILE [--markdown FILE] [--junit FILE] [--json FILE]`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the review reports of a run: HTML for a person, Markdown and JUnit for CI, JSON for tools.",
        discussion: """
            The HTML report is one self-contained file (no scripts, no network; opens from disk): \
            the verdict and the gates at the top, the run's facts, latency CDFs and histograms with \
            per-endpoint percentiles and intervals, mismatch groups by endpoint and field with \
            side-by-side examples (request, production, baseline, candidate, differences marked), \
            and errors by kind. Captured content is escaped; secret headers (Authorization, \
            Cookie, Set-Cookie, and --redact-header) and fields (--redact-field) are hidden unless \
            --show-secrets. Lists are capped so a report of a 1M-request run stays small.

            Takes the same rule and gate flags as 'diff' and records the verdict the same way. \
            Exit 0 when every gate passes, 1 when one is crossed, 2 for usage or input errors.
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    @Option(name: .customLong("run"), help: ArgumentHelp("The replay run to report on (default: the latest).", valueName: "name"))
    var runName: String?

    @OptionGroup(title: "Reports")
    var outputs: ReportOutputOptions

    @OptionGroup(title: "Rules, noise and gates")
    var ruleOptions: DiffRuleOptions

    func validate() throws {
        guard outputs.anyFile else {
            throw ValidationError("name at least one report to write: --html, --markdown, --junit or --json")
        }
    }

    func run() throws {
        let session = try DiffSession(db: db, run: runName, rules: try ruleOptions.effectiveRules(base: DiffRules()))
        try session.write(outputs)
        try session.recordVerdict()
        let s = session.summary
        print("verdict: \(s.passed ? "PASS" : "FAIL") (\(s.mismatched) of \(s.pairs) pairs differ; "
            + (s.latency.regressed ? "latency regressed" : "no latency regression") + ")")
        if !s.passed { throw ExitCode(1) }
    }
}
