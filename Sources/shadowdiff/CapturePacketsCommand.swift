import ArgumentParser
import Foundation
import ShadowCapture
import ShadowCore
import ShadowStore

/// `shadowdiff capture [packets] (--pcap FILE | --interface IF) --db DB`
struct CapturePacketsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packets",
        abstract: "(default) Record HTTP/1.1, h2c and gRPC exchanges from a pcap/pcapng file or a live interface.",
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
            packet and rejected packets are counted 'filtered'. --resume continues the latest \
            capture of the same file in --db that did not complete (interrupted, failed, or left \
            running by a killed process): the file is read again from the start, the exchanges \
            that capture holds are skipped (counted 'resumed_skipped') and the rest are appended \
            to it. The file (its size and first MiB) and the settings that decide what is stored \
            (--filter, --max-body-bytes, --max-flows, --max-buffered-bytes-per-flow, \
            --idle-timeout) must be those of the capture.

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

    @Flag(help: "--pcap: continue the latest capture of this file in --db that did not complete, without storing an exchange twice.")
    var resume = false

    @Option(help: ArgumentHelp("Exchanges committed per transaction (and at least every second).", valueName: "n"))
    var batchSize: Int = 1000

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

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        if (pcap == nil) == (interface == nil) {
            throw ValidationError("give exactly one of --pcap FILE or --interface NAME")
        }
        if pcap != nil && duration != nil { throw ValidationError("--duration applies to --interface only") }
        if resume && interface != nil {
            throw ShadowError.invalidArgument(flag: "--resume", detail: "continues --pcap imports; a live capture cannot be resumed")
        }
        for (flag, value) in [("--buffer-size", bufferSize), ("--snaplen", snaplen), ("--queue-size", queueSize),
                              ("--batch-size", batchSize),
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
        let key = try PcapResumeKey(path: path, filter: filter, limits: limits)
        let database = try ShadowDatabase(path: db, mode: resume ? .mustExist : .createIfMissing)
        let captureID: Int64
        var resumedFrom: Int64?
        if resume {
            let capture = try database.reopenCapture(sourceKind: "pcap", source: path) { try key.check(resuming: $0) }
            captureID = capture.id
            resumedFrom = capture.exchanges
        } else {
            captureID = try database.beginCapture(sourceKind: "pcap", source: path, filter: filter, resumeKey: key.json)
        }
        let alreadyStored = resumedFrom ?? 0
        let store = ExchangeWriterThread(database: database, captureID: captureID, batchSize: batchSize)
        var gate = ExchangeLimitGate(limit: maxExchanges)
        var toSkip = alreadyStored
        let chunk = min(512, batchSize)
        let progressLine = ProgressLine(progress)
        let started = Date()
        var batch: [CapturedExchange] = []
        let interrupted = SignalFlag()
        let stopper = StopOnSignals(signals: [SIGINT, SIGTERM]) { interrupted.raise() }
        defer { stopper.cancel() }
        // The gate sees every exchange, as in the import resumed, so it admits the same ones; the
        // first `alreadyStored` of those are in the store (batches commit in order), so are skipped.
        func submitBatch() {
            var admitted = gate.admit(batch)
            let skipped = min(Int(toSkip), admitted.count)
            admitted.removeFirst(skipped)
            toSkip -= Int64(skipped)
            store.submit(admitted)
            batch.removeAll(keepingCapacity: true)
        }
        let summary: CaptureSummary
        do {
            let importer = PcapFileImporter(path: path, filter: filter, limits: limits)
            summary = try importer.run(shouldStop: { interrupted.isRaised || gate.isReached }) { exchange in
                batch.append(exchange)
                guard batch.count >= chunk else { return }
                submitBatch()
                progressLine.show {
                    let rate = Double(gate.admitted) / Date().timeIntervalSince(started)
                    return "capture: \(gate.admitted) exchanges, \(Int(rate))/s, \(alreadyStored + store.committed) committed"
                }
            }
            submitBatch()
        } catch {
            progressLine.end()
            submitBatch()
            var counters = Counters()
            counters.add("exchanges", alreadyStored + ((try? store.finish()) ?? store.committed))
            if let resumedFrom { counters.add("resumed_skipped", resumedFrom) }
            let marked = (try? database.finishCapture(
                id: captureID, counters: counters, linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: "\(error)")) != nil
            throw CaptureFailure.keeping(error, captureID, alreadyStored + store.committed, marked: marked)
        }
        progressLine.end()
        var failure: Error? = interrupted.isRaised ? ShadowError.interrupted(source: path) : nil
        if failure == nil && toSkip > 0 {
            failure = ShadowError.invalidArgument(
                flag: "--resume",
                detail: "capture \(captureID) holds \(alreadyStored) exchanges, more than \(path) yields with these settings (\(gate.admitted))")
        }
        try conclude(
            database, captureID, source: path, summary: summary, refused: gate.refused, resumedFrom: resumedFrom, store: store,
            started: started, failure: failure)
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
        let store = ExchangeWriterThread(database: database, captureID: captureID, batchSize: batchSize)
        let stopper = StopOnSignals(signals: [SIGINT, SIGTERM]) { capture.stop() }
        defer { stopper.cancel() }
        if let duration {
            DispatchQueue.global().asyncAfter(deadline: .now() + duration) { capture.stop() }
        }
        var gate = ExchangeLimitGate(limit: maxExchanges)
        let progressLine = ProgressLine(progress)
        let started = Date()
        Terminal.error("capturing on \(interface) (link type \(capture.linkType)) into \(db); Ctrl-C stops")
        let summary = capture.run(
            sink: { exchanges in
                store.submit(gate.admit(exchanges))
                if gate.isReached { capture.stop() }
            },
            tick: { status in
                progressLine.show { LiveProgressText.render(status, committed: store.committed, since: started) }
            })
        progressLine.end()
        try conclude(
            database, captureID, source: interface, summary: summary, refused: gate.refused, resumedFrom: nil, store: store,
            started: started, failure: nil)
    }

    /// Commits what is queued, stores the final counters and status, then prints the summary or
    /// throws `failure` (the capture is then marked failed, with what it stored kept). A resumed
    /// capture held `resumedFrom` exchanges before this session.
    private func conclude(
        _ database: ShadowDatabase, _ captureID: Int64, source: String, summary: CaptureSummary, refused: Int64,
        resumedFrom: Int64?, store: ExchangeWriterThread, started: Date, failure: Error?
    ) throws {
        var counters = summary.counters
        counters.add(.afterLimit, refused)
        if let resumedFrom { counters.add("resumed_skipped", resumedFrom) }
        func record(_ error: Error?) throws {
            try database.finishCapture(
                id: captureID, counters: counters, linkType: summary.linkType, firstPacketNs: summary.firstPacketNs,
                lastPacketNs: summary.lastPacketNs, error: error.map { "\($0)" })
        }
        let stored: Int64
        do {
            stored = (resumedFrom ?? 0) + (try store.finish())
            try record(failure)
        } catch {
            let marked = (try? record(error)) != nil
            throw CaptureFailure.keeping(error, captureID, (resumedFrom ?? 0) + store.committed, marked: marked)
        }
        if let failure { throw failure }
        print(CaptureSummaryText.render(
            source: source, db: db, captureID: captureID, linkType: summary.linkType, counters: counters, stored: stored,
            seconds: Date().timeIntervalSince(started)))
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

/// The one-line live status: rate, committed, queue and the largest drop counts.
enum LiveProgressText {
    static func render(_ status: LiveCaptureStatus, committed: Int64, since started: Date) -> String {
        let seconds = max(0.001, Date().timeIntervalSince(started))
        let line = String(
            format: "%.0fs  %lld packets (%.0f/s)  %lld exchanges, %lld committed  %d open  queue %.1f MiB",
            seconds, status.packets, Double(status.packets) / seconds, status.exchanges, committed, status.connections,
            Double(status.queuedBytes) / 1_048_576)
        return line + DropText.top(status.drops, label: "not used")
    }
}

/// What `capture --pcap --resume` checks before continuing a capture: the same file (its size and
/// a digest of its first MiB) read with the same settings, so that the import yields the same
/// exchanges in the same order.
struct PcapResumeKey: Codable, Equatable {
    var bytes: Int64
    /// FNV-1a 64 of the first MiB, in hex.
    var headDigest: String
    var filter: String?
    var maxBodyBytes: Int
    var maxFlows: Int
    var maxBufferedBytesPerFlow: Int
    var idleTimeout: Int

    init(path: String, filter: String?, limits: CaptureLimits) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ShadowError.io(path: path, detail: "cannot open for reading") }
        defer { try? handle.close() }
        do {
            bytes = Int64(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
            let head = try handle.read(upToCount: 1 << 20) ?? Data()
            headDigest = String(head.reduce(0xCBF2_9CE4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }, radix: 16)
        } catch {
            throw ShadowError.io(path: path, detail: "cannot read: \(error)")
        }
        self.filter = filter
        maxBodyBytes = limits.maxBodyBytes
        maxFlows = limits.maxFlows
        maxBufferedBytesPerFlow = limits.maxBufferedBytesPerFlow
        idleTimeout = limits.idleFlowTimeoutSeconds
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Throws unless `capture` was imported from this file with these settings.
    func check(resuming capture: CaptureInfo) throws {
        func refuse(_ why: String) -> ShadowError {
            .invalidArgument(flag: "--resume", detail: "capture \(capture.id) of \(capture.source): \(why)")
        }
        guard let json = capture.resumeKey, let stored = try? JSONDecoder().decode(Self.self, from: Data(json.utf8)) else {
            throw refuse("made by a shadowdiff that did not record the file's identity; import the file again instead")
        }
        if bytes != stored.bytes { throw refuse("the file is \(bytes) bytes now, \(stored.bytes) when it was imported") }
        if headDigest != stored.headDigest { throw refuse("the file's first MiB differs from the one imported") }
        let settings: [(flag: String, now: String, then: String)] = [
            ("--filter", filter ?? "(none)", stored.filter ?? "(none)"),
            ("--max-body-bytes", "\(maxBodyBytes)", "\(stored.maxBodyBytes)"),
            ("--max-flows", "\(maxFlows)", "\(stored.maxFlows)"),
            ("--max-buffered-bytes-per-flow", "\(maxBufferedBytesPerFlow)", "\(stored.maxBufferedBytesPerFlow)"),
            ("--idle-timeout", "\(idleTimeout)", "\(stored.idleTimeout)"),
        ]
        if let changed = settings.first(where: { $0.now != $0.then }) {
            throw refuse("it was imported with \(changed.flag) \(changed.then), not \(changed.now); give the same")
        }
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
        if c[.http2Connection] > 0 {
            lines.append("  http/2 connections \(c[.http2Connection]) (their streams stored as h2 and grpc exchanges)")
        }
        if c.values["resumed_skipped"] != nil {
            lines.append("  resumed: the first \(c["resumed_skipped"]) were stored before and skipped")
        }
        if c.values["pcap_received"] != nil {
            lines.append("  libpcap: received \(c["pcap_received"]), kernel dropped \(c[.kernelDropped]), interface dropped \(c[.interfaceDropped])")
        }
        lines += DropText.block(c, label: "not used")
        return lines.joined(separator: "\n")
    }
}
