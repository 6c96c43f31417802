import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import ShadowCore
import ShadowMetrics
import ShadowReplay
import ShadowStore

/// `shadowdiff replay --db DB --baseline URL --candidate URL [timing] [selection] [rewrites]`
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Send every captured request to a baseline and a candidate build and record what each answered.",
        discussion: """
            Timing: --concurrency N (closed loop, the default with N = 8) keeps N requests in flight; \
            --rate R (open loop) sends R requests per second; --speed X (open loop) keeps the capture's \
            own pace, X times faster. In open loops latency is measured from each request's intended \
            send time, so a slow target cannot hide its queueing (no coordinated omission); the time \
            from the actual write (service time) is stored too. The schedule is kept by sleeping, then \
            spinning the last stretch.

            Each request goes to every target at the same instant, in a seeded random order, over \
            separate keep-alive pools of the same size (one connection per side in each of \
            --concurrency or --connections lanes). A lane takes its next request once every side has \
            answered, so in a closed loop both builds carry the same load and the slower one sets the \
            pace; against targets that answer in microseconds, more lanes keep both of them busy. A \
            request that finds no free lane at its due time, or finds the store too far behind, is sent \
            late and counted with its cause: memory stays bounded however slow a target or the disk is.

            Before the clock starts, every lane's connection to every side is made (at most 4 connects in \
            flight per target, so a small listen backlog does not overflow) and proven with --probe, whose \
            answer is not recorded: no recorded latency includes a connect. Connections that needed SYN \
            retransmissions are counted slow_connect; a lane that cannot be made ready ends the run before \
            it starts (exit 2). During the run, a connection that was closed is set up again before its \
            lane takes its next request; a request that still has to wait for one is marked reconnect.

            Refused connections, resets, responses cut short by a close, timeouts, invalid responses \
            and oversized bodies are stored per request with their kind, the connection is replaced, \
            and the run goes on; a target that fails --max-failures \
            requests in a row ends the run (exit 3). Ctrl-C stops sending, waits for what is in \
            flight, and marks the run interrupted; --resume --run NAME continues it without sending \
            again what is stored. The run's whole configuration is stored with it.
            """
    )

    @Option(help: ArgumentHelp("The shadowdiff database holding the capture.", valueName: "file"))
    var db: String

    @Option(help: ArgumentHelp("URL of the baseline build, e.g. http://127.0.0.1:8080.", valueName: "url"))
    var baseline: String?

    @Option(help: ArgumentHelp("URL of the candidate build.", valueName: "url"))
    var candidate: String?

    @Option(help: ArgumentHelp("URL of a second baseline instance, to measure noise.", valueName: "url"))
    var secondary: String?

    @Option(name: .customLong("run"), help: ArgumentHelp("Name of the run (unique in the database); default: run-<time>.", valueName: "name"))
    var runName: String?

    @Flag(help: "Continue the interrupted run named by --run with its stored configuration (target URLs given now replace the stored ones), skipping what it holds.")
    var resume = false

    @Option(help: ArgumentHelp("Closed loop: requests in flight (connections per target).", valueName: "n"))
    var concurrency: Int?

    @Option(help: ArgumentHelp("Open loop: requests per second, each sent to every target.", valueName: "r"))
    var rate: Double?

    @Option(help: ArgumentHelp("Open loop: the capture's own inter-arrival times, this many times faster.", valueName: "x"))
    var speed: Double?

    @Option(help: ArgumentHelp("Open loops: connections per target (requests in flight at most).", valueName: "n"))
    var connections: Int = 64

    @Option(help: ArgumentHelp("Stop sending after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(help: "Send at most this many requests.")
    var limit: Int?

    @Flag(help: "Start over from the first exchange when the capture is exhausted (needs --duration or --limit).")
    var loop = false

    @Option(help: ArgumentHelp("Send this many requests first and keep them out of statistics.", valueName: "n"))
    var warmup: Int = 0

    @Option(help: ArgumentHelp("Cap on requests per second, in every mode (token bucket).", valueName: "r"))
    var maxRate: Double?

    @Option(help: "Replay only this capture id (default: every capture).")
    var capture: Int64?

    @Option(help: "Per-request timeout in milliseconds, from the write to the last response byte (however slowly it trickles in).")
    var timeoutMs: Int = 2000

    @Option(help: "Connect timeout in milliseconds. Before the clock starts, a connect may take longer (SYN retransmissions, up to 3.5 s, 3 attempts): it is then counted slow_connect.")
    var connectTimeoutMs: Int = 1000

    @Option(help: ArgumentHelp(
        "What proves every connection before the clock starts: 'first' (the run's first request, its answer not recorded), 'none' (connect only), or 'METHOD /path' (e.g. 'GET /health').",
        valueName: "request"))
    var probe: String = "first"

    @Option(help: "Largest response body kept, in bytes; a larger one is not read further and is stored as body_too_large.")
    var maxBodyBytes: Int = 8 << 20

    @Option(help: ArgumentHelp("End the run when one target fails this many requests in a row.", valueName: "n"))
    var maxFailures: Int = 100

    @Option(help: "Seed for the per-request send order.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Host header sent to every target (default: the target's own host:port).", valueName: "host"))
    var host: String?

    @Flag(help: "Send the recorded Host header unchanged.")
    var keepHost = false

    @Option(name: .customLong("set-header"), help: ArgumentHelp("Set (or add) a header: 'Name: value'. Repeatable.", valueName: "header"))
    var setHeaders: [String] = []

    @Option(name: .customLong("delete-header"), help: ArgumentHelp("Remove a header by name. Repeatable.", valueName: "name"))
    var deleteHeaders: [String] = []

    @Option(name: .customLong("rewrite-path"), help: ArgumentHelp("Replace a path prefix: FROM=TO. Repeatable; the first match applies.", valueName: "from=to"))
    var rewritePaths: [String] = []

    @Option(name: .customLong("method"), help: ArgumentHelp("Replay only this method. Repeatable.", valueName: "method"))
    var methods: [String] = []

    @Option(name: .customLong("path-prefix"), help: ArgumentHelp("Replay only paths starting with this. Repeatable.", valueName: "prefix"))
    var pathPrefixes: [String] = []

    @Option(name: .customLong("exclude-path-prefix"), help: ArgumentHelp("Never replay paths starting with this. Repeatable.", valueName: "prefix"))
    var excludedPathPrefixes: [String] = []

    @Option(help: ArgumentHelp("Replay this percentage of exchanges (stable: chosen by exchange id).", valueName: "percent"))
    var sample: Double = 100

    @Option(help: ArgumentHelp("Event-loop threads for the connections (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://ADDR:PORT/metrics while replaying.", valueName: "addr:port"))
    var metrics: String?

    @Flag(inversion: .prefixedNo, help: """
        While replaying, hold the CPUs' wake-up latency at zero (/dev/cpu_dma_latency, as cyclictest \
        does) so that idle CPUs answer a response or a timer at once; needs root, and says so once when \
        it cannot.
        """)
    var holdCpuLatency = true

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        let modes = [concurrency != nil, rate != nil, speed != nil].filter { $0 }.count
        guard modes <= 1 else { throw ShadowError.invalidArgument(flag: "--concurrency/--rate/--speed", detail: "choose one timing mode") }
        if let concurrency, !(1...4096).contains(concurrency) {
            throw ShadowError.invalidArgument(flag: "--concurrency", detail: "must be between 1 and 4096, got \(concurrency)")
        }
        if let rate, !(rate > 0 && rate <= 10_000_000) { throw ShadowError.invalidArgument(flag: "--rate", detail: "must be positive, got \(rate)") }
        if let speed, !(speed > 0) { throw ShadowError.invalidArgument(flag: "--speed", detail: "must be positive, got \(speed)") }
        if let maxRate, !(maxRate > 0) { throw ShadowError.invalidArgument(flag: "--max-rate", detail: "must be positive, got \(maxRate)") }
        guard (1...4096).contains(connections) else {
            throw ShadowError.invalidArgument(flag: "--connections", detail: "must be between 1 and 4096, got \(connections)")
        }
        guard timeoutMs > 0 else { throw ShadowError.invalidArgument(flag: "--timeout-ms", detail: "must be positive") }
        guard connectTimeoutMs > 0 else { throw ShadowError.invalidArgument(flag: "--connect-timeout-ms", detail: "must be positive") }
        _ = try ProbeRequest(parsing: probe)
        if let threads, !(1...64).contains(threads) { throw ShadowError.invalidArgument(flag: "--threads", detail: "must be between 1 and 64") }
        guard maxFailures > 0 else { throw ShadowError.invalidArgument(flag: "--max-failures", detail: "must be positive") }
        guard warmup >= 0 else { throw ShadowError.invalidArgument(flag: "--warmup", detail: "must not be negative") }
        if let limit, limit < 1 { throw ShadowError.invalidArgument(flag: "--limit", detail: "must be positive") }
        if let duration, !(duration > 0) { throw ShadowError.invalidArgument(flag: "--duration", detail: "must be positive") }
        if loop && limit == nil && duration == nil {
            throw ShadowError.invalidArgument(flag: "--loop", detail: "needs --duration or --limit, or it never ends")
        }
        guard sample > 0 && sample <= 100 else { throw ShadowError.invalidArgument(flag: "--sample", detail: "must be in (0, 100], got \(sample)") }
        if let metrics { _ = try MetricsAddress.parse(metrics) }
        if resume && runName == nil { throw ShadowError.invalidArgument(flag: "--resume", detail: "name the run to continue with --run") }
        if !resume && (baseline == nil || candidate == nil) {
            throw ShadowError.invalidArgument(flag: baseline == nil ? "--baseline" : "--candidate", detail: "required (unless --resume)")
        }
    }

    func run() async throws {
        let database = try ShadowDatabase(path: db, mode: .mustExist)
        try SpoolLeftovers.expand(in: database, progress: progress)
        var resuming: RunInfo?
        let configuration: ReplayConfiguration
        if resume, let runName {
            let stored = try database.run(named: runName)
            guard stored.status != "complete" else {
                throw ShadowError.invalidArgument(flag: "--resume", detail: "run '\(runName)' in \(db) is complete; nothing to resume")
            }
            var storedConfiguration: ReplayConfiguration
            do {
                storedConfiguration = try JSONDecoder().decode(ReplayConfiguration.self, from: Data(stored.config.utf8))
            } catch {
                throw ShadowError.invalidArgument(flag: "--resume", detail: "run '\(runName)' has no usable stored configuration: \(error)")
            }
            // Targets may have moved (restarted on other ports): URLs given now replace the stored ones.
            if let baseline { storedConfiguration.baseline = try ReplayTarget(side: .baseline, url: baseline, flag: "--baseline") }
            if let candidate { storedConfiguration.candidate = try ReplayTarget(side: .candidate, url: candidate, flag: "--candidate") }
            if let secondary {
                guard storedConfiguration.secondary != nil else {
                    throw ShadowError.invalidArgument(flag: "--secondary", detail: "run '\(runName)' had no secondary target to resume")
                }
                storedConfiguration.secondary = try ReplayTarget(side: .secondary, url: secondary, flag: "--secondary")
            }
            configuration = storedConfiguration
            resuming = stored
        } else {
            configuration = try makeConfiguration()
        }
        guard try database.exchangeCount(captureID: configuration.captureID) > 0 else { throw ShadowError.noCaptures(path: db) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads ?? System.coreCount)
        do {
            try await replay(database: database, configuration: configuration, resuming: resuming, group: group)
            try? await group.shutdownGracefully()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func replay(
        database: ShadowDatabase, configuration: ReplayConfiguration, resuming: RunInfo?, group: MultiThreadedEventLoopGroup
    ) async throws {
        let replayer = Replayer(database: database, configuration: configuration, group: group)
        try await replayer.checkTargets()
        var hold: CPUWakeupLatencyHold?
        if holdCpuLatency {
            switch CPUWakeupLatencyHold.acquire() {
            case .success(let taken): hold = taken
            case .failure(let why):
                Terminal.error("note: CPU wake-up latency not held (\(why.detail)); latencies may read tens of µs high on hosts with deep idle states")
            }
        }
        defer { hold?.release() }
        var live: (metrics: ReplayMetrics, endpoint: MetricsEndpoint)?
        if let metrics {
            let (host, port) = try MetricsAddress.parse(metrics)
            let replayMetrics = ReplayMetrics()
            let endpoint = try await MetricsEndpoint.start(
                host: host, port: port, registry: replayMetrics.registry, group: MultiThreadedEventLoopGroup.singleton)
            live = (replayMetrics, endpoint)
            Terminal.error("metrics at http://\(host.contains(":") ? "[\(host)]" : host):\(endpoint.port)/metrics")
        }
        let stop = StopFlag()
        let signals = StopOnSignals(signals: [SIGINT, SIGTERM]) { stop.raise() }
        defer { signals.cancel() }
        let outcome: ReplayOutcome
        let liveMetrics = live?.metrics
        let progressLine = ProgressLine(progress)
        do {
            outcome = try await replayer.run(
                resuming: resuming, stop: stop, observer: liveMetrics.map(MetricsObserver.init), progressInterval: progressLine.tick
            ) { progress in
                liveMetrics?.update(done: progress.done, total: progress.total ?? 0, inFlight: progress.inFlight)
                progressLine.show { ReplayText.progress(progress) }
            }
        } catch {
            progressLine.end()
            await live?.endpoint.stop()
            throw error
        }
        progressLine.end()
        await live?.endpoint.stop()
        print(ReplayText.summary(outcome, configuration: configuration, database: db), terminator: "")
    }

    private func makeConfiguration() throws -> ReplayConfiguration {
        let timing: TimingMode = rate.map { .rate($0) } ?? speed.map { .speed($0) } ?? .concurrency(concurrency ?? 8)
        var rewrite = RequestRewrite(host: host, keepHost: keepHost, deleteHeaders: deleteHeaders)
        for header in setHeaders {
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
                throw ShadowError.invalidArgument(flag: "--set-header", detail: "'\(header)' is not 'Name: value'")
            }
            let name = String(header[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else {
                throw ShadowError.invalidArgument(flag: "--set-header", detail: "'\(header)' is not a valid header")
            }
            if name.lowercased() == "host" { rewrite.host = value } else { rewrite.setHeaders.append(HeaderField(name, value)) }
        }
        for rule in rewritePaths {
            let parts = rule.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].hasPrefix("/"), parts[1].hasPrefix("/") || parts[1].isEmpty else {
                throw ShadowError.invalidArgument(flag: "--rewrite-path", detail: "'\(rule)' is not FROM=TO with paths starting with /")
            }
            rewrite.pathRewrites.append(.init(from: String(parts[0]), to: String(parts[1])))
        }
        return ReplayConfiguration(
            run: runName ?? "run-" + ISO8601DateFormatter().string(from: Date()),
            baseline: try ReplayTarget(side: .baseline, url: baseline ?? "", flag: "--baseline"),
            candidate: try ReplayTarget(side: .candidate, url: candidate ?? "", flag: "--candidate"),
            secondary: try secondary.map { try ReplayTarget(side: .secondary, url: $0, flag: "--secondary") },
            timing: timing, connections: connections, durationSeconds: duration, limit: limit, loop: loop, warmup: warmup,
            maxRate: maxRate, timeoutMs: timeoutMs, connectTimeoutMs: connectTimeoutMs, maxBodyBytes: maxBodyBytes,
            maxFailures: maxFailures, captureID: capture, seed: seed,
            selection: RequestSelection(
                filter: RequestFilter(
                    methods: Set(methods.map { $0.uppercased() }), pathPrefixes: pathPrefixes,
                    excludedPathPrefixes: excludedPathPrefixes),
                samplePercent: sample),
            rewrite: rewrite, probe: try ProbeRequest(parsing: probe))
    }
}

/// Feeds every stored result to the Prometheus metrics.
struct MetricsObserver: ReplayObserver {
    let metrics: ReplayMetrics

    func recorded(side: Side, status: Int?, error: ReplayErrorKind?, latencyNs: Int64?, serviceNs: Int64?) {
        metrics.record(side: side.rawValue, status: status, error: error?.rawValue, latencyNs: latencyNs, serviceNs: serviceNs)
    }

    func sent(lagNs: Int64, late: Bool) {
        metrics.recordSendLag(ns: lagNs, late: late)
    }
}

/// The replay's progress line and final summary.
enum ReplayText {
    static func progress(_ p: ReplayProgress) -> String {
        let seconds = Double(p.elapsedNs) / 1e9
        let rate = seconds > 0 ? Double(p.done) / seconds : 0
        var eta = "?"
        if let total = p.total, rate > 0 {
            eta = String(format: "%.0fs", Double(max(0, total - p.committed)) / rate)
        } else if let duration = p.durationSeconds {
            eta = String(format: "%.0fs", max(0, duration - seconds))
        }
        let sides = p.sides.map { side in
            "\(side.side.rawValue) err \(side.errors.values.reduce(0, +)) p99 \(ms(side.latency.p99))"
        }.joined(separator: "  ")
        let total = p.total.map { "/\($0)" } ?? ""
        return String(format: "replay %lld%@ committed  %.0f req/s  ", p.committed, total, rate) + sides + "  late \(p.late)  ETA \(eta)"
    }

    static func summary(_ outcome: ReplayOutcome, configuration: ReplayConfiguration, database: String) -> String {
        let p = outcome.progress
        let seconds = Double(p.elapsedNs) / 1e9
        var text = String(
            format: "replayed %lld requests as run '%@' in %@ (%.1f s, %.0f req/s per side)%@\n",
            p.done, outcome.run.name, database, seconds, seconds > 0 ? Double(p.done) / seconds : 0,
            outcome.stoppedEarly ? "; interrupted, continue with --resume --run \(outcome.run.name)" : "")
        for side in p.sides {
            let errors = side.errors.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
            text += "  \(side.side.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) sent \(side.sent)  "
            text += "errors: \(errors.isEmpty ? "none" : errors.joined(separator: ", "))\n"
            text += "             latency p50 \(ms(side.latency.p50))  p99 \(ms(side.latency.p99))  p99.9 \(ms(side.latency.p999))  max \(ms(side.latency.max))"
            text += "   service p50 \(ms(side.service.p50))  p99 \(ms(side.service.p99))\n"
        }
        text += connections(outcome, counters: outcome.run.counters)
        if configuration.timing.isOpenLoop || configuration.maxRate != nil {
            text += "  schedule   send lag p50 \(ms(p.lag.p50))  p99 \(ms(p.lag.p99))  max \(ms(p.lag.max)); "
            text += "late: \(p.late) (no free lane \(p.late - p.lateStoreBehind), store behind \(p.lateStoreBehind))\n"
        }
        let skipped = outcome.run.counters.values.filter { $0.key.hasPrefix("skipped_") || $0.key == "resumed_skipped" }
            .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        if !skipped.isEmpty { text += "  skipped    \(skipped.joined(separator: ", "))\n" }
        let lost = ["result_queue_full", "result_store_failed"].filter { outcome.run.counters[$0] > 0 }
            .map { "\($0) \(outcome.run.counters[$0])" }
        if !lost.isEmpty { text += "  NOT STORED \(lost.joined(separator: ", ")) (answered, but their results were not stored)\n" }
        return text
    }

    /// Connections: how they were made ready before the clock, and what was set up again during the run.
    static func connections(_ outcome: ReplayOutcome, counters: Counters) -> String {
        var text = ""
        for ready in outcome.connections {
            let name = ready.side.rawValue
            var notes: [String] = []
            if ready.proven > 0 { notes.append("proven \(ready.proven)") }
            if ready.slowConnects > 0 { notes.append("slow_connect \(ready.slowConnects)") }
            if ready.failedConnects > 0 { notes.append("connect attempts failed \(ready.failedConnects)") }
            if ready.failedProbes > 0 { notes.append("probe_failed \(ready.failedProbes)") }
            if ready.closesConnections { notes.append("closes connections after each answer") }
            let during = ["reconnect_\(name)", "reconnect_between_\(name)", "reconnect_idle_\(name)", "connect_failed_\(name)"]
                .filter { counters[$0] > 0 }.map { "\($0.replacingOccurrences(of: "_\(name)", with: "")) \(counters[$0])" }
            text += "  \(name.padding(toLength: 10, withPad: " ", startingAt: 0)) connections \(ready.ready)/\(ready.lanes) ready before the clock "
            text += String(format: "(%.2f s%@)", ready.seconds, notes.isEmpty ? "" : "; " + notes.joined(separator: ", "))
            text += during.isEmpty ? "\n" : "; during the run: \(during.joined(separator: ", "))\n"
        }
        return text
    }

    static func ms(_ ns: UInt64?) -> String {
        guard let ns else { return "-" }
        return String(format: "%.3f ms", Double(ns) / 1e6)
    }
}
