import ArgumentParser
import Foundation
import ShadowStore

/// `shadowdiff runs --db DB`
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the replay runs in a database with their latest verdicts.",
        discussion: """
            One line per run, oldest first: name, status, requests, start time, and the verdict of \
            its latest 'diff' or 'report' (PASS or FAIL with the gates crossed), or 'not diffed'.
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    func run() throws {
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        let runs = try database.runs()
        guard !runs.isEmpty else {
            print("no replay runs in \(db); run 'shadowdiff replay' first")
            return
        }
        let verdicts = try database.latestVerdicts()
        let width = max(4, runs.map(\.name.count).max() ?? 0)
        print("run".padding(toLength: width, withPad: " ", startingAt: 0) + "  status       requests  started               verdict")
        for run in runs {
            let verdict = verdicts[run.id].map { v in
                (v.passed ? "PASS" : "FAIL (\(v.failedGates.joined(separator: ", ")))")
                    + "  \(v.mismatched) of \(v.pairs) pairs differ, \(v.createdAt)"
            } ?? "not diffed"
            print(run.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + run.status.padding(toLength: 11, withPad: " ", startingAt: 0) + "  "
                + String(format: "%8lld", run.counters["exchanges"]) + "  " + run.startedAt.padding(toLength: 20, withPad: " ", startingAt: 0)
                + "  " + verdict)
        }
    }
}
