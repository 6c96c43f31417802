import ArgumentParser
import Foundation
import ShadowCore
import ShadowReplay
import ShadowStore

/// `shadowdiff replay --db DB --baseline URL --candidate URL`
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send every captured request to a baseline and a candidate build and record what each answered.",
        discussion: """
            Each request goes to every target at once, in a seeded random order, over separate \
            keep-alive connection pools of --concurrency connections per target. Status, headers, \
            body and latency (monotonic clock, ns, from the write to the last byte) are stored per \
            side. Refused connections, resets and timeouts are recorded per request and the run \
            goes on; a target that cannot be reached at all before the run starts is an error \
            (exit 2). The run's whole configuration is stored with it.
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database holding the capture.", valueName: "file"))
    var db: String

    @Option(help: ArgumentHelp("URL of the baseline build, e.g. http://127.0.0.1:8080.", valueName: "url"))
    var baseline: String

    @Option(help: ArgumentHelp("URL of the candidate build.", valueName: "url"))
    var candidate: String

    @Option(help: ArgumentHelp("URL of a second baseline instance, to measure noise.", valueName: "url"))
    var secondary: String?

    @Option(help: "Requests in flight at once (connections per target).")
    var concurrency: Int = 8

    @Option(name: .customLong("run"), help: ArgumentHelp("Name of the run (unique in the database); default: run-<time>.", valueName: "name"))
    var runName: String?

    @Option(help: "Replay only this capture id (default: every capture).")
    var capture: Int64?

    @Option(help: "Replay at most this many exchanges.")
    var limit: Int?

    @Option(help: "Per-request timeout in milliseconds, from the write to the last response byte.")
    var timeoutMs: Int = 2000

    @Option(help: "Largest response body kept, in bytes.")
    var maxBodyBytes: Int = 8 << 20

    @Option(help: "Seed for the per-request send order.")
    var seed: UInt64 = 1

    func validate() throws {
        guard concurrency >= 1 && concurrency <= 4096 else {
            throw ShadowError.invalidArgument(flag: "--concurrency", detail: "must be between 1 and 4096, got \(concurrency)")
        }
        guard timeoutMs > 0 else { throw ShadowError.invalidArgument(flag: "--timeout-ms", detail: "must be positive") }
        if let limit, limit < 1 { throw ShadowError.invalidArgument(flag: "--limit", detail: "must be positive") }
    }

    func run() async throws {
        let name = runName ?? "run-" + ISO8601DateFormatter().string(from: Date())
        let configuration = ReplayConfiguration(
            run: name,
            baseline: try ReplayTarget(side: .baseline, url: baseline, flag: "--baseline"),
            candidate: try ReplayTarget(side: .candidate, url: candidate, flag: "--candidate"),
            secondary: try secondary.map { try ReplayTarget(side: .secondary, url: $0, flag: "--secondary") },
            concurrency: concurrency, timeoutMs: timeoutMs, maxBodyBytes: maxBodyBytes, captureID: capture,
            limit: limit, seed: seed)
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        guard try database.exchangeCount(captureID: capture) > 0 else { throw ShadowError.noCaptures(path: db) }
        let replayer = Replayer(database: database, configuration: configuration)
        try await replayer.checkTargets()
        let result = try await replayer.run { progress in
            Terminal.progress(ProgressText.render(progress))
        }
        Terminal.endProgress()
        let c = result.counters
        print("replayed \(c["exchanges"]) exchanges as run '\(result.name)' in \(db)")
        for side in configuration.targets.map(\.side) {
            let errors = c.values.filter { $0.key.hasPrefix("error_\(side.rawValue)_") }
                .map { "\($0.key.dropFirst("error_\(side.rawValue)_".count)) \($0.value)" }.sorted()
            print("  \(side.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) sent \(c["sent_\(side.rawValue)"])  errors: \(errors.isEmpty ? "none" : errors.joined(separator: ", "))")
        }
    }
}

enum ProgressText {
    static func render(_ p: ReplayProgress) -> String {
        let seconds = Double(p.elapsedNs) / 1e9
        let rate = seconds > 0 ? Double(p.done) / seconds : 0
        let eta = rate > 0 ? Double(p.total - p.done) / rate : 0
        let errors = p.errors.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
        return String(format: "replay %lld/%lld  %.0f req/s  errors: %@  ETA %.0fs", p.done, p.total, rate,
                      errors.isEmpty ? "none" : errors.joined(separator: ", "), eta)
    }
}
