import ArgumentParser
import Foundation
import NIOCore
import ShadowCore
import ShadowStore
import ShadowTee

/// `shadowdiff capture proxy --listen ADDR:PORT --upstream URL --db DB`
struct CaptureProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Sit inline in front of production: forward every request, record each exchange.",
        discussion: """
            Forwards each request unchanged to --upstream over a pool of keep-alive connections \
            (per event loop, --upstream-connections each) and streams the response back as it arrives. \
            Each exchange is recorded with production's response and its upstream latency (request \
            written → response complete, ns). Recording is off the forwarding path: each event loop \
            copies its records' raw bytes into spool segments, which go through a bounded queue \
            (--queue-size) to a store thread that keeps each segment whole (table spooled_exchanges); \
            when the queue is full the records are dropped and counted 'record_queue_full', never \
            delaying a response. Segments are expanded into exchanges while a CPU is otherwise idle \
            (SCHED_IDLE), and on stop whatever is left.

            Upstream failures answer 502 (refused, reset, invalid response) or 504 (--connect-timeout, \
            --upstream-timeout) for that request only, and are recorded with prod_error. A failure \
            after the response began closes the client connection. A reused upstream connection that \
            closes before answering is retried once on a new one.

            \(TeeOptions.clientLimitsHelp)

            SIGINT/SIGTERM (or --duration) stop accepting, let in-flight requests finish (at most \
            --drain-timeout), commit every record, expand the spool (with progress) and store the \
            counters. A killed tee's spooled records are expanded by the next tee or replay on the database.
            """
    )

    @OptionGroup var tee: TeeOptions

    @Option(help: ArgumentHelp("Production's address, http://host:port.", valueName: "url"))
    var upstream: String

    @Option(help: ArgumentHelp("Upstream connections per event loop; requests beyond wait for one.", valueName: "n"))
    var upstreamConnections: Int = 256

    @Option(help: ArgumentHelp("Seconds to open an upstream connection before answering 504.", valueName: "seconds"))
    var connectTimeout: Double = 2

    @Option(help: ArgumentHelp("Seconds from request written to response complete before answering 504.", valueName: "seconds"))
    var upstreamTimeout: Double = 30

    func validate() throws {
        try tee.validate()
        _ = try upstreamAddress()
        if upstreamConnections <= 0 { throw ValidationError("--upstream-connections must be positive") }
        if !(connectTimeout > 0) { throw ValidationError("--connect-timeout must be positive") }
        if !(upstreamTimeout > 0) { throw ValidationError("--upstream-timeout must be positive") }
    }

    private func upstreamAddress() throws -> SocketAddressText {
        let url = try HTTPURL(upstream, flag: "--upstream")
        guard url.path.isEmpty else {
            throw ShadowError.badURL(flag: "--upstream", url: upstream, detail: "requests are forwarded unchanged, so give no path")
        }
        return SocketAddressText(host: url.host, port: url.port)
    }

    func run() throws {
        var configuration = UpstreamConfiguration(address: try upstreamAddress())
        configuration.connectionsPerLoop = upstreamConnections
        configuration.connectTimeout = .interval(seconds: connectTimeout)
        configuration.responseTimeout = .interval(seconds: upstreamTimeout)
        try TeeRunner(options: tee, kind: "proxy", mode: .proxy(configuration), upstream: configuration.address.description).run()
    }
}

/// `shadowdiff capture mirror --listen ADDR:PORT --db DB`
struct CaptureMirrorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "A sink for mirrored traffic (nginx mirror, Envoy request_mirror_policies): answer 204, record.",
        discussion: """
            Answers each request 204 as soon as it has been read, and records it (there is no \
            production response on this path). The recorded target is the --original-uri-header \
            value when present, so with nginx put 'proxy_set_header X-Original-URI $request_uri;' \
            in the mirror location. Headers are recorded as received, including those that mark \
            mirrored traffic (Envoy's '-shadow' Host suffix, X-Original-URI).

            \(TeeOptions.clientLimitsHelp)

            Example nginx configuration:
              location / { mirror /mirror; mirror_request_body on; proxy_pass http://bidder; }
              location = /mirror { internal; proxy_pass http://127.0.0.1:9100$request_uri;
                proxy_set_header X-Original-URI $request_uri; proxy_http_version 1.1;
                proxy_set_header Connection ""; }
            """
    )

    @OptionGroup var tee: TeeOptions

    @Option(help: ArgumentHelp("Header carrying the original request URI; empty to always record the URI as received.", valueName: "name"))
    var originalURIHeader: String = "X-Original-URI"

    func validate() throws {
        try tee.validate()
    }

    func run() throws {
        let header = originalURIHeader.isEmpty ? nil : originalURIHeader
        try TeeRunner(options: tee, kind: "mirror", mode: .mirror(originalURIHeader: header), upstream: nil).run()
    }
}

/// Options shared by `capture proxy` and `capture mirror`.
struct TeeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Address to listen on: PORT (on 127.0.0.1), HOST:PORT or [V6]:PORT.", valueName: "addr"))
    var listen: String

    @Option(help: ArgumentHelp("The shadowdiff database (created when missing).", valueName: "file"))
    var db: String

    @Option(help: ArgumentHelp("Record this percentage of requests (0 < P ≤ 100), chosen by a stable hash of --sample-key.", valueName: "P"))
    var sample: Double = 100

    @Option(help: ArgumentHelp("What the sample hashes: 'connection', or 'header:NAME' (requests without it fall back to the connection).", valueName: "key"))
    var sampleKey: String = "connection"

    @Option(name: .customLong("method"), help: ArgumentHelp("Record only this method (repeatable).", valueName: "method"))
    var methods: [String] = []

    @Option(name: .customLong("path-prefix"), help: ArgumentHelp("Record only paths starting with this (repeatable).", valueName: "prefix"))
    var pathPrefixes: [String] = []

    @Option(name: .customLong("exclude-path-prefix"), help: ArgumentHelp("Never record paths starting with this (repeatable).", valueName: "prefix"))
    var excludedPathPrefixes: [String] = []

    @Option(name: .customLong("redact-header"), help: ArgumentHelp("Record this header's value as '[redacted]' (repeatable), e.g. Authorization, Cookie.", valueName: "name"))
    var redactedHeaders: [String] = []

    @Option(help: ArgumentHelp("Largest request body accepted (larger: 413) and response body recorded.", valueName: "bytes"))
    var maxBodyBytes: Int = 64 << 20

    @Option(help: ArgumentHelp("Largest request head accepted (larger: 431).", valueName: "bytes"))
    var maxHeaderBytes: Int = 64 << 10

    @Option(help: ArgumentHelp("Most header fields in a request (more: 431).", valueName: "n"))
    var maxHeaderCount: Int = 100

    @Option(help: ArgumentHelp("Seconds for a request head to arrive whole, from the connection's start or the head's first byte (then 408).", valueName: "seconds"))
    var headerTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds a request body may stall between two reads (then 408).", valueName: "seconds"))
    var bodyTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds a keep-alive client connection may sit idle before it is closed.", valueName: "seconds"))
    var idleTimeout: Double = 60

    @Option(help: ArgumentHelp("Client connections open at once; more are closed as soon as accepted.", valueName: "n"))
    var maxConnections: Int = 10_000

    @Option(help: ArgumentHelp("Records queued for the store before new ones are dropped, in MiB.", valueName: "MiB"))
    var queueSize: Int = 256

    @Option(help: ArgumentHelp(
        "The store thread's CPU priority: 'idle' (SCHED_IDLE: it runs only on CPU time production leaves, and at nice 10 while its queue is over half full; a queue that fills still drops records, counted) or 'low' (nice 10 throughout: records are kept at the cost of some production CPU).",
        valueName: "idle|low"))
    var storePriority: StorePriority = .idle

    @Option(help: ArgumentHelp("Event loop threads (default: one per core).", valueName: "n"))
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(help: ArgumentHelp("On stop, seconds to let in-flight requests finish.", valueName: "seconds"))
    var drainTimeout: Double = 10

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        _ = try listenAddress()
        _ = try policy()
        for (flag, value) in [("--max-body-bytes", maxBodyBytes), ("--max-header-bytes", maxHeaderBytes),
                              ("--max-header-count", maxHeaderCount), ("--max-connections", maxConnections),
                              ("--queue-size", queueSize), ("--threads", threads)] where value <= 0 {
            throw ValidationError("\(flag) must be positive, got \(value)")
        }
        for (flag, value) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout)]
        where !(value > 0) {
            throw ValidationError("\(flag) must be positive, got \(value)")
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if !(drainTimeout >= 0) { throw ValidationError("--drain-timeout must not be negative") }
    }

    /// How clients are bounded, for both commands' help.
    static let clientLimitsHelp = """
        Clients are bounded, each refusal counted by reason and the connection closed: malformed \
        requests (bare LF or CR, NUL bytes, bad chunk sizes, both Content-Length and Transfer-Encoding, \
        HTTP/2, TLS) get 400 ('malformed_request'); heads over --max-header-bytes or with more than \
        --max-header-count fields 431 ('oversized_header', 'too_many_header_fields'), as soon as the \
        limit is passed; bodies over --max-body-bytes 413 ('oversized_body'), as soon as \
        Content-Length or the chunks say so; a head not complete within --header-timeout, or a body \
        stalled for --body-timeout, 408 ('header_timeout', 'body_timeout'). After such an answer the \
        tee discards what the client still sends for at most --body-timeout (a lingering close). \
        Connections silent for --idle-timeout (new ones: --header-timeout) are closed \
        ('idle_timeouts'); connections over --max-connections are closed as soon as accepted \
        ('connection_limit'), so that those already open keep being served.
        """

    var limits: TeeLimits {
        var limits = TeeLimits()
        limits.maxBodyBytes = maxBodyBytes
        limits.maxHeaderBytes = maxHeaderBytes
        limits.maxHeaderFields = maxHeaderCount
        limits.headerTimeout = .interval(seconds: headerTimeout)
        limits.bodyTimeout = .interval(seconds: bodyTimeout)
        limits.idleTimeout = .interval(seconds: idleTimeout)
        limits.maxConnections = maxConnections
        return limits
    }

    func listenAddress() throws -> SocketAddressText {
        guard let address = SocketAddressText(parsing: listen) else {
            throw ValidationError("--listen \(listen): expected PORT, HOST:PORT or [V6]:PORT")
        }
        return address
    }

    func policy() throws -> RecordingPolicy {
        var policy = RecordingPolicy()
        guard sample > 0 && sample <= 100 else { throw ValidationError("--sample must be in (0, 100], got \(sample)") }
        policy.samplePercent = sample
        if sampleKey == "connection" {
            policy.sampleKey = .connection
        } else if sampleKey.hasPrefix("header:"), sampleKey.count > "header:".count {
            policy.sampleKey = .header(String(sampleKey.dropFirst("header:".count)))
        } else {
            throw ValidationError("--sample-key \(sampleKey): expected 'connection' or 'header:NAME'")
        }
        policy.filter = RequestFilter(
            methods: Set(methods.map { $0.uppercased() }), pathPrefixes: pathPrefixes, excludedPathPrefixes: excludedPathPrefixes)
        policy.redactedHeaders = Set(redactedHeaders.map { $0.lowercased() })
        return policy
    }
}

extension TimeAmount {
    /// A flag's seconds, fractions included.
    static func interval(seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(seconds * 1e9))
    }
}

/// Runs one tee session: capture row, store thread, server, progress, graceful stop, summary.
struct TeeRunner {
    let options: TeeOptions
    let kind: String
    let mode: TeeMode
    let upstream: String?

    func run() throws {
        let listen = try options.listenAddress()
        warnIfOpenFilesFallShort()
        let database = try ShadowDatabase(path: options.db, mode: .createIfMissing)
        let captureID = try database.beginCapture(sourceKind: kind, source: sourceText(listen), filter: nil)
        try SpoolLeftovers.expand(in: database, progress: options.progress)
        let tally = TeeTally()
        let store = TeeStore(
            database: database, captureID: captureID, tally: tally, queueBytes: options.queueSize << 20,
            priority: options.storePriority)
        let server: TeeServer
        do {
            server = try TeeServer.start(
                mode: mode, listen: listen, threads: options.threads, policy: try options.policy(), limits: options.limits,
                store: store, tally: tally)
        } catch {
            _ = try? store.finish()
            try? database.finishCapture(
                id: captureID, counters: Counters(), linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: "\(error)")
            throw ShadowError.invalidArgument(flag: "--listen \(options.listen)", detail: "\(error)")
        }
        let stop = DispatchSemaphore(value: 0)
        let stopper = StopOnSignals(signals: [SIGINT, SIGTERM]) { stop.signal() }
        defer { stopper.cancel() }
        let progressLine = ProgressLine(options.progress)
        let started = Date()
        let deadline = options.duration.map { started.addingTimeInterval($0) }
        Terminal.error("\(kind) listening on \(server.boundAddress)\(upstream.map { " → \($0)" } ?? ""), recording into \(options.db) as capture \(captureID); Ctrl-C stops")
        while true {
            // Short waits: the store's priority is balanced against its queue ten times a second.
            let wait = min(0.1, deadline.map { max(0, $0.timeIntervalSinceNow) } ?? 1)
            if stop.wait(timeout: .now() + wait) == .success { break }
            if let deadline, Date() >= deadline { break }
            store.balancePriority()
            progressLine.show {
                TeeProgressText.render(
                    server.tally.snapshot, inFlight: server.tally.inFlight, openConnections: server.tally.openConnections,
                    committed: store.stored, since: started)
            }
        }
        progressLine.end()
        Terminal.error("\(kind): stopping; draining in-flight requests")
        server.shutdown(drainTimeout: options.drainTimeout)
        // A failed store (a full disk) never stopped forwarding; the summary still says what was
        // forwarded, recorded and dropped, then the failure is the one error line.
        var failure: Error?
        let stored: Int64
        let expandedWhileRunning = store.expanded
        let expansionStarted = Date()
        let expansionLine = ProgressLine(options.progress)
        do {
            stored = try store.finish { expanded, stored in
                expansionLine.show { SpoolLeftovers.progressText(expanded - expandedWhileRunning, of: stored - expandedWhileRunning, since: expansionStarted) }
            }
        } catch {
            failure = error
            stored = store.stored
        }
        expansionLine.end()
        var final = counters(server.tally, stored: stored)
        // Records queued when the store failed were never written: they are lost, and counted so.
        if failure != nil { final.add(.storeFailed, max(0, final["recorded"] - stored)) }
        var marked = true
        do {
            try database.finishCapture(
                id: captureID, counters: final, linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: failure.map { "\($0)" })
        } catch {
            failure = failure ?? error
            marked = false
        }
        print(TeeSummaryText.render(
            kind: kind, source: sourceText(server.boundAddress), db: options.db, captureID: captureID, counters: final,
            seconds: Date().timeIntervalSince(started),
            expansion: (whileRunning: expandedWhileRunning, atStop: store.expanded - expandedWhileRunning,
                        seconds: Date().timeIntervalSince(expansionStarted))))
        if let failure { throw CaptureFailure.keeping(failure, captureID, stored, marked: marked) }
    }

    /// Raises the open-file limit to its hard limit, and says so when it is still short of the
    /// client and upstream connections the flags allow.
    private func warnIfOpenFilesFallShort() {
        let limit = OpenFileLimit.raiseToHardLimit()
        var upstreamConnections = 0
        if case .proxy(let upstream) = mode { upstreamConnections = upstream.connectionsPerLoop * options.threads }
        let needed = options.maxConnections + upstreamConnections + 64
        guard needed > limit else { return }
        Terminal.error("""
            \(kind): warning: --max-connections \(options.maxConnections) and \(upstreamConnections) upstream connections \
            need about \(needed) open files, over the limit of \(limit) (ulimit -Hn); connections past it wait to be accepted
            """)
    }

    private func sourceText(_ listen: SocketAddressText) -> String {
        upstream.map { "\(listen) -> \($0)" } ?? listen.description
    }

    private func counters(_ tally: TeeTally, stored: Int64) -> Counters {
        var counters = tally.snapshot
        counters.add("exchanges", stored)
        return counters
    }
}

/// The tee's one-line live status.
enum TeeProgressText {
    static func render(_ c: Counters, inFlight: Int, openConnections: Int, committed: Int64, since started: Date) -> String {
        let seconds = max(0.001, Date().timeIntervalSince(started))
        let line = String(
            format: "%.0fs  requests %lld (%.0f/s)  in flight %d  clients %d  recorded %lld (%lld committed)  502 %lld  504 %lld",
            seconds, c["requests"], Double(c["requests"]) / seconds, inFlight, openConnections, c["recorded"], committed,
            c["upstream_errors"], c["upstream_timeouts"])
        return line + DropText.top(c.drops, label: "not recorded")
    }
}

/// The text `capture proxy` and `capture mirror` print when they end.
enum TeeSummaryText {
    static func render(
        kind: String, source: String, db: String, captureID: Int64, counters c: Counters, seconds: Double,
        expansion: (whileRunning: Int64, atStop: Int64, seconds: Double)
    ) -> String {
        var lines = [
            "captured \(kind) \(source) into \(db) as capture \(captureID) in \(String(format: "%.2f", seconds)) s",
            "  requests \(c["requests"])  client connections \(c["client_connections"]) (closed idle \(c["idle_timeouts"]))" + (kind == "proxy"
                ? "  forwarded \(c["forwarded"])  responses \(c["responses"])  upstream connections \(c["upstream_connections"])"
                : ""),
        ]
        if kind == "proxy" {
            lines.append("  answered 502 \(c["upstream_errors"])  504 \(c["upstream_timeouts"])  failed mid-response \(c["upstream_failed_midway"])  retried \(c["upstream_retries"])")
        }
        lines.append("  exchanges stored \(c["exchanges"])  (recorded \(c["recorded"]))")
        lines.append(String(
            format: "  spool expanded into exchanges: %lld while running (idle CPU), %lld at stop in %.2f s",
            expansion.whileRunning, expansion.atStop, expansion.seconds)
            + (c["store_priority_raised"] > 0 ? "; store lifted to nice 10 \(c["store_priority_raised"]) times (queue over half full)" : ""))
        lines += DropText.block(c, label: "not recorded")
        return lines.joined(separator: "\n")
    }
}

/// Expanding what killed tees left spooled, before a command reads or adds exchanges.
enum SpoolLeftovers {
    static func expand(in database: ShadowDatabase, progress: ProgressOptions) throws {
        let line = ProgressLine(progress)
        let started = Date()
        var announced = false
        let expanded = try TeeStore.expandLeftovers(in: database) { done, total in
            if !announced {
                Terminal.error("expanding \(total) exchanges a stopped tee left spooled in \(database.path)")
                announced = true
            }
            line.show { progressText(done, of: total, since: started) }
        }
        line.end()
        if announced { Terminal.error("expanded \(expanded) spooled exchanges in \(String(format: "%.2f", Date().timeIntervalSince(started))) s") }
    }

    /// "expanding spool: done/total, rate, ETA".
    static func progressText(_ done: Int64, of total: Int64, since started: Date) -> String {
        let seconds = max(0.001, Date().timeIntervalSince(started))
        let rate = Double(done) / seconds
        let eta = rate > 0 ? Double(max(0, total - done)) / rate : 0
        return String(format: "expanding spool: %lld/%lld exchanges  %.0f/s  ETA %.0fs", done, total, rate, eta)
    }
}

extension StorePriority: ExpressibleByArgument {}
