import ArgumentParser
import Foundation
import ShadowCore
import ShadowDiff
import ShadowReplay
import ShadowReport
import ShadowStore

extension RulePreset: ExpressibleByArgument {}

/// `shadowdiff diff --db DB [--run NAME] [--json FILE]`
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare what baseline and candidate answered in a run; exit 1 when a gate is crossed.",
        discussion: """
            Rules: 'openrtb' compares decisions per impression (bid or no-bid, where HTTP 204, an \
            empty seatbid or nbr mean no-bid; price within --price-tolerance; crid, adomain, dealid, \
            seat, currency) and ignores per-response noise such as id, bidid and timestamps; \
            'json' compares every field by JSON path; 'status' compares status codes only; 'auto' \
            (default) uses openrtb for OpenRTB bid requests and json otherwise.

            Gates (defaults): mismatch rate at most 0.1% of pairs; candidate p99 at most \
            max(10%, 1 ms) above baseline p99. Exit 0 within the gates, 1 when one is crossed, \
            2 for usage or input errors.
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    @Option(name: .customLong("run"), help: ArgumentHelp("The replay run to compare (default: the latest).", valueName: "name"))
    var runName: String?

    @Option(help: ArgumentHelp("Also write the JSON report to this file.", valueName: "file"))
    var json: String?

    @Option(help: "Comparison rules: auto, openrtb, json or status.")
    var rules: RulePreset = .auto

    @Option(help: "Relative price difference treated as equal.")
    var priceTolerance: Double = 0.0001

    @Option(help: "Gate: largest share of mismatched pairs, as a fraction (0.001 = 0.1%).")
    var maxMismatchRate: Double = 0.001

    @Option(help: "Gate: largest p99 increase of candidate over baseline, as a fraction (0.10 = 10%).")
    var maxP99Regression: Double = 0.10

    @Option(help: "Gate: a p99 increase below this many milliseconds is never a regression.")
    var minP99RegressionMs: Double = 1

    func validate() throws {
        for (flag, value) in [("--max-mismatch-rate", maxMismatchRate), ("--max-p99-regression", maxP99Regression),
                              ("--price-tolerance", priceTolerance), ("--min-p99-regression-ms", minP99RegressionMs)]
        where !(value >= 0) || !value.isFinite {
            throw ShadowError.invalidArgument(flag: flag, detail: "must be a non-negative number, got \(value)")
        }
    }

    func run() throws {
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        let info = try database.run(named: runName)
        var options = DiffOptions()
        options.rules = rules
        options.priceTolerance = priceTolerance
        options.maxMismatchRate = maxMismatchRate
        options.maxP99Regression = maxP99Regression
        options.minP99RegressionMs = minP99RegressionMs
        var accumulator = DiffAccumulator(options: options)
        var cursor = ResultCursor()
        while true {
            let page = try database.results(runID: info.id, after: cursor, limit: 512)
            guard let last = page.last else { break }
            for set in page {
                accumulator.add(exchangeID: set.exchange.id, request: set.exchange.exchange.request, results: set.results)
            }
            cursor = ResultCursor(pass: last.pass, exchangeID: last.exchange.id)
        }
        let summary = accumulator.finish()
        let config = try? JSONDecoder().decode(ReplayConfiguration.self, from: Data(info.config.utf8))
        let facts = RunFacts(
            database: db, run: info.name, startedAt: info.startedAt, status: info.status,
            baseline: config?.baseline.url ?? "?", candidate: config?.candidate.url ?? "?")
        print(TerminalReport.render(summary, facts: facts), terminator: "")
        if let json {
            do {
                try JSONReport(run: facts, diff: summary).write(to: json)
            } catch {
                throw ShadowError.io(path: json, detail: "cannot write the JSON report: \(error.localizedDescription)")
            }
            print("JSON report written to \(json)")
        }
        if !summary.passed { throw ExitCode(1) }
    }
}
