import ArgumentParser
import ShadowCore
import ShadowStore

/// `shadowdiff captures --db DB`
struct CapturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "captures",
        abstract: "List the captures in a database with their counters.",
        discussion: """
            One block per capture: id, source, status, exchanges stored and start time; the non-zero \
            totals (packets, bytes, tcp_connections, requests, responses, pcap_received, ...); and \
            everything not used, by reason (see README: drop reasons). Status is running, complete, \
            failed, or interrupted: a capture whose process ended without finishing it (killed, \
            crashed) is marked so when listed, keeping what it committed. A tee's records are spooled \
            first and expanded into exchanges when the CPU is idle; those not expanded yet are listed \
            as spooled (the next tee or replay on the database expands a stopped capture's).
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database.", valueName: "file"))
    var db: String

    func run() throws {
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        try database.markAbandonedCaptures()
        for capture in try database.captures() {
            let spooled = capture.spooled > 0 ? " (and \(capture.spooled) spooled, not yet expanded)" : ""
            print("capture \(capture.id)  \(capture.sourceKind) \(capture.source)  \(capture.status)  exchanges \(capture.exchanges)\(spooled)  started \(capture.startedAt)")
            if let error = capture.error { print("  error: \(error)") }
            let c = capture.counters
            let dropNames = Set(DropReason.allCases.map(\.rawValue))
            let totals = c.values.filter { !dropNames.contains($0.key) && $0.value != 0 }.sorted { $0.key < $1.key }
            if !totals.isEmpty { print("  " + totals.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }
            let drops = c.drops.map { "\($0.0.rawValue)=\($0.1)" }
            print("  not used: " + (drops.isEmpty ? "nothing" : drops.joined(separator: " ")))
        }
    }
}
