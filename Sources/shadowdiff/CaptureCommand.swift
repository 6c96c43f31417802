import ArgumentParser
import Foundation
import ShadowCapture
import ShadowCore
import ShadowStore

/// `shadowdiff capture --pcap FILE --db DB`
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Import HTTP/1.1 exchanges from a pcap or pcapng file into the database.",
        discussion: """
            Reassembles TCP per direction in sequence order (retransmissions and out-of-order \
            segments handled), parses HTTP/1.1 requests and responses (Content-Length, chunked, \
            keep-alive, pipelining) and stores each request with production's response and \
            latency. Link types: Ethernet (with 802.1Q VLAN), Linux cooked SLL/SLL2, BSD loopback, \
            raw IP; IPv4 and IPv6. Everything that could not be used is counted by reason, stored \
            with the capture and printed. A capture file damaged part-way keeps the exchanges \
            read before the damage, is marked failed with the byte offset, and exits 2.
            """
    )

    @Option(name: .customLong("pcap"), help: ArgumentHelp("The pcap or pcapng file to import.", valueName: "file"))
    var pcap: String

    @Option(help: ArgumentHelp("The shadowdiff database (created when missing).", valueName: "file"))
    var db: String

    @Option(help: ArgumentHelp("A BPF filter applied while reading, e.g. 'tcp port 8080'.", valueName: "bpf"))
    var filter: String?

    @Option(help: "Largest HTTP body kept, in bytes; larger messages are counted and skipped.")
    var maxBodyBytes: Int = 64 << 20

    func run() throws {
        try PcapMagic.check(path: pcap)
        let database = try ShadowDatabase(path: db, mode: .createIfMissing)
        let captureID = try database.beginCapture(sourceKind: "pcap", source: pcap, filter: filter)
        let writer = ExchangeWriter(database: database, captureID: captureID)
        var limits = CaptureLimits()
        limits.maxBodyBytes = maxBodyBytes
        let importer = PcapFileImporter(path: pcap, filter: filter, limits: limits)
        let started = Date()
        var lastProgress = started
        var seen: Int64 = 0
        let summary: CaptureSummary
        do {
            summary = try importer.run { exchange in
                try writer.append(exchange)
                seen += 1
                if seen % 1024 == 0, Date().timeIntervalSince(lastProgress) >= 1 {
                    lastProgress = Date()
                    let rate = Double(seen) / lastProgress.timeIntervalSince(started)
                    Terminal.progress("capture: \(seen) exchanges, \(Int(rate))/s, \(writer.committed) committed")
                }
            }
            try writer.flush()
        } catch {
            Terminal.endProgress()
            try? writer.flush()
            var counters = Counters()
            counters.add("exchanges", writer.committed)
            try? database.finishCapture(
                id: captureID, counters: counters, linkType: nil, firstPacketNs: nil, lastPacketNs: nil, error: "\(error)")
            throw error
        }
        Terminal.endProgress()
        try database.finishCapture(
            id: captureID, counters: summary.counters, linkType: summary.linkType,
            firstPacketNs: summary.firstPacketNs, lastPacketNs: summary.lastPacketNs, error: nil)
        print(CaptureSummaryText.render(
            file: pcap, db: db, captureID: captureID, summary: summary, stored: writer.committed,
            seconds: Date().timeIntervalSince(started)))
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
    static func render(file: String, db: String, captureID: Int64, summary: CaptureSummary, stored: Int64, seconds: Double) -> String {
        let c = summary.counters
        var lines = [
            "captured \(file) into \(db) as capture \(captureID) (link type \(summary.linkType)) in \(String(format: "%.2f", seconds)) s",
            "  packets \(c["packets"])  bytes \(c["bytes"])  tcp connections \(c["tcp_connections"])",
            "  exchanges stored \(stored)  (requests \(c["requests"]), responses \(c["responses"]))",
        ]
        let drops = c.drops
        if drops.isEmpty {
            lines.append("  not used: nothing")
        } else {
            lines.append("  not used, by reason:")
            lines += drops.map { "    \($0.0.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)) \($0.1)" }
        }
        return lines.joined(separator: "\n")
    }
}
