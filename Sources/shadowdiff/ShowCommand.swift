import ArgumentParser
import Foundation
import ShadowCore
import ShadowDiff
import ShadowReport
import ShadowStore

/// `shadowdiff show --db DB EXCHANGE_ID [--run NAME] [--pass N]`
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one exchange: the request and every side's answer and latency, differences marked.",
        discussion: """
            Prints the captured request, then production's answer (when the capture has it) and \
            what baseline, candidate and secondary answered in the run, each with its latency, \
            headers and decoded, pretty-printed body. Lines that differ from the baseline under the \
            rules are marked with '»' (red on a terminal). Secret headers and fields are hidden \
            unless --show-secrets. Rule flags are those of 'diff' (--rules, --ignore, ...).
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    @Argument(help: ArgumentHelp("The exchange id (as reports list it, without '#').", valueName: "exchange-id"))
    var exchangeID: Int64

    @Option(name: .customLong("run"), help: ArgumentHelp("The replay run (default: the latest).", valueName: "name"))
    var runName: String?

    @Option(help: ArgumentHelp("The pass of a looped run (default: the first the exchange was replayed in).", valueName: "n"))
    var pass: Int?

    @OptionGroup(title: "Secrets")
    var secrets: RedactionOptions

    @Flag(help: "Never color the output (default: color when stdout is a terminal).")
    var noColor = false

    @OptionGroup(title: "Rules")
    var ruleOptions: DiffRuleOptions

    func run() throws {
        let rules = try ruleOptions.effectiveRules(base: DiffRules())
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        let run = try database.run(named: runName)
        let passes = try database.passes(runID: run.id, exchangeID: exchangeID)
        let chosen = pass ?? passes.first ?? 0
        guard let set = try database.resultSet(runID: run.id, exchangeID: exchangeID, pass: chosen) else {
            let detail = passes.isEmpty
                ? "run '\(run.name)' did not replay exchange \(exchangeID)"
                : "run '\(run.name)' replayed exchange \(exchangeID) in passes \(passes.map(String.init).joined(separator: ", ")), not \(chosen)"
            throw ShadowError.invalidArgument(flag: passes.isEmpty ? "exchange-id" : "--pass", detail: "\(db): \(detail)")
        }
        let view = ExchangeView(
            exchangeID: exchangeID, pass: chosen, exchange: set.exchange.exchange, results: set.results, rules: rules,
            redaction: secrets.redaction)
        let color = !noColor && isatty(STDOUT_FILENO) == 1
        print("run '\(run.name)' in \(db)" + (passes.count > 1 ? " (replayed in passes \(passes.map(String.init).joined(separator: ", ")))" : ""))
        print(ExchangeText.render(view, color: color), terminator: "")
    }
}
