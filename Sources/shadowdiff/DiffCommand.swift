import ArgumentParser
import ShadowDiff
import ShadowReport

/// `shadowdiff diff --db DB [--run NAME] [rule and gate flags] [--json|--html|--markdown|--junit FILE]`
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare what baseline and candidate answered in a run; exit 1 when a gate is crossed.",
        discussion: """
            Rules: 'openrtb' compares decisions per impression keyed by impid (bid or no-bid, where \
            HTTP 204, an empty body, an empty seatbid or nbr mean no-bid; price within \
            --price-tolerance; crid, adomain, dealid, cat, attr, seat, currency) and ignores \
            per-response noise such as id, bidid, bid ids, ext and markup; 'json' compares every \
            field by JSON path; 'status' compares status codes only; 'auto' (default) uses openrtb \
            for OpenRTB bid requests and json otherwise. Gzip and deflate bodies are decoded first. \
            A rules file (YAML or JSON, see docs/REPORT.md) sets the same and more; flags override it.

            Noise: when the run has a --secondary baseline, a candidate difference in a field is \
            reported only when its rate exceeds the field's baseline-vs-secondary rate by more than \
            --noise-absolute (share of pairs) and (rate - noise) / (rate + noise) exceeds \
            --noise-relative; the \
            others are listed as noisy. Where the capture holds production's answers, production \
            vs baseline is reported separately.

            Latency: per endpoint and overall, a paired analysis of every request's two latencies \
            (Wilcoxon signed-rank, Hodges-Lehmann shift, paired bootstrap intervals of the p50 and \
            p99 deltas). A regression is declared only when the interval's lower bound exceeds \
            max(--max-pNN-regression x baseline pNN, --min-pNN-regression-ms), Holm-corrected \
            across endpoints.

            Gates (defaults): reported mismatches in at most 0.1% of pairs; no latency regression \
            at p50 (5%, 0.5 ms) or p99 (5%, 1 ms). Exit 0 within the gates, 1 when one is \
            crossed, 2 for usage or input errors. Each diff records its verdict with the run \
            ('shadowdiff runs' lists them). Reports hide secret headers and fields unless \
            --show-secrets is given.
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    @Option(name: .customLong("run"), help: ArgumentHelp("The replay run to compare (default: the latest).", valueName: "name"))
    var runName: String?

    @OptionGroup(title: "Rules, noise and gates")
    var ruleOptions: DiffRuleOptions

    @OptionGroup(title: "Reports")
    var outputs: ReportOutputOptions

    func run() throws {
        let session = try DiffSession(db: db, run: runName, rules: try ruleOptions.effectiveRules(base: DiffRules()))
        print(TerminalReport.render(session.summary, facts: session.facts), terminator: "")
        try session.write(outputs)
        try session.recordVerdict()
        if !session.summary.passed { throw ExitCode(1) }
    }
}
