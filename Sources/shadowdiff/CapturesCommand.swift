import ArgumentParser
import ShadowStore

/// `shadowdiff captures --db DB`
struct CapturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "captures",
        abstract: "List the captures in a database with their counters."
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    func run() throws {
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        for capture in try database.captures() {
            print("capture \(capture.id)  \(capture.sourceKind) \(capture.source)  \(capture.status)  exchanges \(capture.exchanges)  started \(capture.startedAt)")
            if let error = capture.error { print("  error: \(error)") }
            let counters = capture.counters.values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            if !counters.isEmpty { print("  " + counters.joined(separator: " ")) }
        }
    }
}
