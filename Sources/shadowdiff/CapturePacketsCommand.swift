import ArgumentParser
import Foundation
import ShadowCapture
import ShadowCore
import ShadowStore

/// `shadowdiff capture [packets] (--pcap FILE | --interface IF) --db DB`
struct CapturePacketsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packets",
        abstract: "(default) Record HTTP/1.1 exchanges from a pcap/pcapng file or a live interface.",
        discussion: """
            Reassembles TCP per direction in sequence order (retransmissions, overlaps and \
            out-of-order segments handled), parses HTTP/1.1 requests and responses (Content-Length, \
            chunked, keep-alive, pipelining, 1xx, Upgrade) and stores each request with production's \
            response and latency. Link types: Ethernet (with VLAN tags), Linux cooked SLL/SLL2, BSD \
            loopback, raw IP; IPv4 and IPv6. Everything that could not be used is counted by reason, \
            stored with the capture and printed.

            --pcap: a file damaged part-way keeps the exchanges read before the damage, is marked \
            failed with the packet number and byte offset, and exits 2; so does an import stopped \
            by SIGINT/SIGTERM (what was read is committed). --filter is applied per \
            packet and rejected packets are counted 'filtered'.

            --interface: captures until SIGINT/SIGTERM, --duration or --max-exchanges, then parses \
            everything still queued, closes open connections and stores the final counters, \
            including libpcap's own (pcap_received, kernel_dropped, interface_dropped). A dedicated \
            thread reads packets into a bounded queue (--queue-size); if parsing falls behind that \
            far, packets are counted 'capture_queue_full'. --filter runs in the kernel there, so \
            rejected packets are not seen or counted. Needs CAP_NET_RAW (root).
            """
    )

    @Option(name: .customLong("pcap"), help: ArgumentHelp("A pcap or pcapng file to import.", valueName: "file"))
    var pcap: String?

    @Option(help: ArgumentHelp("A network interface to capture from live, e.g. lo, eth0, or any.", valueName: "name"))
    var interface: String?

    @Option(help: ArgumentHelp("The shadowdiff database (created when missing).", valueName: "file"))
    var db: String

    @Option(help: ArgumentHelp("A BPF filter, e.g. 'tcp port 8080'.", valueName: "bpf"))
    var filter: String?

    @Option(help: ArgumentHelp("Live: stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(help: ArgumentHelp("Stop after storing this many exchanges (later ones count 'after_limit').", valueName: "n"))
    var maxExchanges: Int64?

    @Option(help: ArgumentHelp("Live: libpcap's kernel buffer, in MiB.", valueName: "MiB"))
    var bufferSize: Int = 256

    @Option(help: ArgumentHelp("Live: bytes kept per packet (64 KiB segments and their headers fit).", valueName: "bytes"))
    var snaplen: Int = 66_000

    @Flag(inversion: .prefixedNo, help: """
        Live: libpcap immediate mode (each packet at once, fixed slots of --snaplen in the kernel buffer). \
        --no-immediate-mode packs packets in blocks: more packets fit the same buffer, delivered up to 10 ms later.
        """)
    var immediateMode = true

    @Option(help: ArgumentHelp("Live: packet bytes queued between the capture thread and the parser, in MiB.", valueName: "MiB"))
    var queueSize: Int = 512

    @Option(help: ArgumentHelp("Largest HTTP body kept; larger messages are counted 'oversized_body' and skipped.", valueName: "bytes"))
    var maxBodyBytes: Int = 64 << 20

    @Option(help: ArgumentHelp("Connections tracked at once; packets of more count 'flow_table_full'.", valueName: "n"))
    var maxFlows: Int = 100_000

    @Option(help: ArgumentHelp("Out-of-order bytes held per connection direction before the hole is given up as a gap.", valueName: "bytes"))
    var maxBufferedBytesPerFlow: Int = 64 << 20

    @Option(help: ArgumentHelp("A connection silent this long is closed, its partial messages counted.", valueName: "seconds"))
    var idleTimeout: Int = 600

    func validate() throws {
        if (pcap == nil) == (interface == nil) {
            throw ValidationError("give exactly one of --pcap FILE or --interface NAME")
        }
        if pcap != nil && duration != nil { throw ValidationError("--duration applies to --interface only") }
        for (flag, value) in [("--buffer-size", bufferSize), ("--snaplen", snaplen), ("--queue-size", queueSize),
                              ("--max-body-bytes", maxBodyBytes), ("--max-flows", maxFlows),
                              ("--max-buffered-bytes-per-flow", maxBufferedBytesPerFlow), ("--idle-timeout", idleTimeout)]
        where value <= 0 {
            throw ValidationError("\(flag) must be positive, got \(value)")
        }
        if let maxExchanges, maxExchanges <= 0 { throw ValidationError("--max-exchanges must be positive") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
    }

    private var limits: CaptureLimits {
        CaptureLimits(
            maxBodyBytes: maxBodyBytes, maxBufferedBytesPerFlow: maxBufferedBytesPerFlow,
            idleFlowTimeoutSeconds: idleTimeout, maxFlows: maxFlows)
    }

    func run() throws {
        if let pcap { try importFile(pcap) } else if let interface { try captureLive(interface) }
    }

    private func importFile(_ path: String) throws {
        try PcapMagic.check(path: path)
        let database = try ShadowDatabase(path: db, mode: .createIfMissing)
        let captureID = try database.beginCapture(sourceKind: "pcap", source: path, filter: filter)
        let store = ExchangeWriterThread(database: database, captureID: captureID)
        var gate = ExchangeLimitGate(limit: maxExchanges)
        let started = Date()
        var lastProgress = started
        var batch: [CapturedExchange] = []
        let interrupted = SignalFlag()
        let stopper = StopOnSignals(signals: [SIGINT, SIGTERM]) { interrupted.raise() }
        defer { stopper.cancel() }
        func submitBatch() {
            store.submit(gate.admit(batch))
            batch.removeAll(keepingCapacity: true)
        }
        let summary: CaptureSummary
        do {
            let importer = PcapFileImporter(path: path, filter: filter, limits: limits)
            summary = try importer.run(shouldStop: { interrupted.isRaised || gate.isReached }) { exchange in
                batch.append(exchange)
                guard batch.count >= 512 else { return }
                submitBatch()
                if Date().timeIntervalSince(lastProgress) >= 1 {
                    lastProgress = Date()
                    let rate = Double(gate.admitted) / lastProgress.timeIntervalSince(started)
                    Terminal.progress("capture: \(gate.admitted) exchanges, \(Int(rate))/s, \(store.committed) committed")
                }
            }
            submitBatch()
        } catch {
            Terminal.endProgress()
            submitBatch()
            var counters = Counters()
            counters.add("exchanges", (try? store.finish()) ?? store.committed)
            let marked = (try? database.finishCapture(
                id: captureID, counters: counters, linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: "\(error)")) != nil
            Self.reportKept(captureID, store.committed, marked: marked)
            throw error
        }
        Terminal.endProgress()
        try conclude(
            database, captureID, source: path, summary: summary, refused: gate.refused, store: store, started: started,
            failure: interrupted.isRaised ? ShadowError.interrupted(source: path) : nil)
    }

    private func captureLive(_ interface: String) throws {
        var options = LiveCaptureOptions(interface: interface, filter: filter, limits: limits)
        options.kernelBufferBytes = bufferSize << 20
        options.snapLength = snaplen
        options.immediateMode = immediateMode
        options.queueBytes = queueSize << 20
        let capture = try LiveCapture(options: options)
        let database = try ShadowDatabase(path: db, mode: .createIfMissing)
        let captureID = try database.beginCapture(sourceKind: "interface", source: interface, filter: filter)
        let store = ExchangeWriterThread(database: database, captureID: captureID)
        let stopper = StopOnSignals(signals: [SIGINT, SIGTERM]) { capture.stop() }
        defer { stopper.cancel() }
        if let duration {
            DispatchQueue.global().asyncAfter(deadline: .now() + duration) { capture.stop() }
        }
        var gate = ExchangeLimitGate(limit: maxExchanges)
        let started = Date()
        Terminal.error("capturing on \(interface) (link type \(capture.linkType)) into \(db); Ctrl-C stops")
        let summary = capture.run(
            sink: { exchanges in
                store.submit(gate.admit(exchanges))
                if gate.isReached { capture.stop() }
            },
            tick: { status in
                Terminal.progress(LiveProgressText.render(status, stored: store.committed, since: started))
            })
        Terminal.endProgress()
        try conclude(
            database, captureID, source: interface, summary: summary, refused: gate.refused, store: store, started: started,
            failure: nil)
    }

    /// Commits what is queued, stores the final counters and status, then prints the summary or
    /// throws `failure` (the capture is then marked failed, with what it stored kept).
    private func conclude(
        _ database: ShadowDatabase, _ captureID: Int64, source: String, summary: CaptureSummary, refused: Int64,
        store: ExchangeWriterThread, started: Date, failure: Error?
    ) throws {
        var counters = summary.counters
        counters.add(.afterLimit, refused)
        func record(_ error: Error?) throws {
            try database.finishCapture(
                id: captureID, counters: counters, linkType: summary.linkType, firstPacketNs: summary.firstPacketNs,
                lastPacketNs: summary.lastPacketNs, error: error.map { "\($0)" })
        }
        let stored: Int64
        do {
            stored = try store.finish()
            try record(failure)
        } catch {
            let marked = (try? record(error)) != nil
            Self.reportKept(captureID, store.committed, marked: marked)
            throw error
        }
        if let failure { throw failure }
        print(CaptureSummaryText.render(
            source: source, db: db, captureID: captureID, linkType: summary.linkType, counters: counters, stored: stored,
            seconds: Date().timeIntervalSince(started)))
    }
}

extension CapturePacketsCommand {
    /// Says, after a failure, what the capture keeps and how it is marked.
    static func reportKept(_ captureID: Int64, _ committed: Int64, marked: Bool) {
        Terminal.error(
            "capture \(captureID): the \(committed) exchanges committed before the failure are kept; "
                + (marked ? "the capture is marked failed" : "it could not be marked failed and is listed as interrupted"))
    }
}

/// Lets the first `limit` exchanges through (all of them without a limit) and counts the rest.
struct ExchangeLimitGate {
    let limit: Int64?
    private(set) var admitted: Int64 = 0
    private(set) var refused: Int64 = 0

    init(limit: Int64?) {
        self.limit = limit
    }

    var isReached: Bool { limit.map { admitted >= $0 } ?? false }

    mutating func admit(_ exchanges: [CapturedExchange]) -> [CapturedExchange] {
        guard let limit else {
            admitted += Int64(exchanges.count)
            return exchanges
        }
        let room = Int(max(0, limit - admitted))
        let taken = exchanges.prefix(room)
        admitted += Int64(taken.count)
        refused += Int64(exchanges.count - taken.count)
        return Array(taken)
    }
}

/// The one-line live status: rate, stored, queue and the largest drop counts.
enum LiveProgressText {
    static func render(_ status: LiveCaptureStatus, stored: Int64, since started: Date) -> String {
        let seconds = max(0.001, Date().timeIntervalSince(started))
        let line = String(
            format: "%.0fs  %lld packets (%.0f/s)  %lld exchanges, %lld stored  %d open  queue %.1f MiB",
            seconds, status.packets, Double(status.packets) / seconds, status.exchanges, stored, status.connections,
            Double(status.queuedBytes) / 1_048_576)
        return line + DropText.top(status.drops, label: "not used")
    }
}

/// Recognises pcap and pcapng files by their first four bytes, before any database is touched.
enum PcapMagic {
    static let known: Set<UInt32> = [0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1, 0x0A0D_0D0A]

    static func check(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw ShadowError.fileNotFound(path: path) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ShadowError.io(path: path, detail: "cannot open for reading")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 4)) ?? Data())
        guard head.count == 4 else {
            throw ShadowError.notACapture(path: path, detail: "file is \(head.count) bytes, shorter than any capture header")
        }
        let magic = head.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard known.contains(magic) else {
            throw ShadowError.notACapture(path: path, detail: String(format: "unknown magic number 0x%08x at offset 0", magic))
        }
    }
}

/// The text `capture` prints when it ends.
enum CaptureSummaryText {
    static func render(
        source: String, db: String, captureID: Int64, linkType: String, counters c: Counters, stored: Int64, seconds: Double
    ) -> String {
        var lines = [
            "captured \(source) into \(db) as capture \(captureID) (link type \(linkType)) in \(String(format: "%.2f", seconds)) s",
            "  packets \(c["packets"])  bytes \(c["bytes"])  tcp connections \(c["tcp_connections"])",
            "  exchanges stored \(stored)  (requests \(c["requests"]), responses \(c["responses"]))",
        ]
        if c.values["pcap_received"] != nil {
            lines.append("  libpcap: received \(c["pcap_received"]), kernel dropped \(c[.kernelDropped]), interface dropped \(c[.interfaceDropped])")
        }
        lines += DropText.block(c, label: "not used")
        return lines.joined(separator: "\n")
    }
}
