import CLibpcap
import Foundation
import ShadowCore

/// Imports HTTP/1.x and HTTP/2 (h2c, gRPC) exchanges from a pcap or pcapng file, read through libpcap with
/// nanosecond timestamps.
public struct PcapFileImporter: Sendable {
    public let path: String
    public let filter: String?
    public let limits: CaptureLimits

    /// `filter` is a BPF expression (e.g. `tcp port 8080`); packets it rejects are counted `filtered`.
    public init(path: String, filter: String? = nil, limits: CaptureLimits = .init()) {
        self.path = path
        self.filter = filter
        self.limits = limits
    }

    /// Streams exchanges to `sink` in completion order; throws ShadowError for unreadable/non-pcap/truncated files.
    ///
    /// Memory stays bounded by the open connections, not the capture size. A file damaged part-way
    /// (`ShadowError.truncatedCapture`, with the packet number and byte offset of the damaged record) throws after the
    /// exchanges read before the damage were emitted. An error thrown by `sink` stops the import.
    /// `shouldStop` (asked after each batch of finished exchanges and every 4096 packets) ends the
    /// import early, as if the file ended there: open connections are closed and the summary returned.
    public func run(
        shouldStop: () -> Bool = { false }, _ sink: (CapturedExchange) throws -> Void
    ) throws -> CaptureSummary {
        guard FileManager.default.fileExists(atPath: path) else { throw ShadowError.fileNotFound(path: path) }
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            throw ShadowError.notACapture(path: path, detail: Self.string(errbuf))
        }
        defer { pcap_close(handle) }
        let dlt = pcap_datalink(handle)
        let linkType = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "DLT_\(dlt)"

        var program = bpf_program()
        if let filter {
            guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
                throw ShadowError.invalidArgument(flag: "--filter", detail: "'\(filter)': \(String(cString: pcap_geterr(handle)))")
            }
        }
        defer { if filter != nil { pcap_freecode(&program) } }

        var processor = PacketProcessor(dlt: dlt, limits: limits)
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        var packetNumber: Int64 = 0

        while true {
            let rc = pcap_next_ex(handle, &header, &data)
            if rc == PCAP_ERROR_BREAK { break }
            if rc == 0 { continue }
            packetNumber += 1
            guard rc == 1, let header, let data else {
                let detail = String(cString: pcap_geterr(handle))
                processor.finish()
                try drain(&processor, sink)
                let offset = Self.offsetOfRecord(packetNumber, in: path)
                throw ShadowError.truncatedCapture(path: path, packet: packetNumber, offset: offset, detail: detail)
            }
            let ts = Self.nanoseconds(header.pointee.ts)
            let captured = Int(header.pointee.caplen)
            if filter != nil && pcap_offline_filter(&program, header, data) == 0 {
                processor.skip(frameBytes: captured, timestampNs: ts, reason: .filtered)
                continue
            }
            processor.process(frame: UnsafeRawBufferPointer(start: data, count: captured), timestampNs: ts)
            if processor.hasExchanges {
                try drain(&processor, sink)
                if shouldStop() { break }
            } else if packetNumber & 4095 == 0 && shouldStop() {
                break
            }
        }
        processor.finish()
        try drain(&processor, sink)
        return CaptureSummary(
            counters: processor.tally.counters, firstPacketNs: processor.firstPacketNs,
            lastPacketNs: processor.lastPacketNs, linkType: linkType)
    }

    private func drain(_ processor: inout PacketProcessor, _ sink: (CapturedExchange) throws -> Void) throws {
        for exchange in processor.takeExchanges() { try sink(exchange) }
    }

    /// Byte offset where record `number` (1-based) starts: the file position after the records before
    /// it. Found by reading the file again, so the import loop needs no per-packet seek; -1 if unknown.
    static func offsetOfRecord(_ number: Int64, in path: String) -> Int64 {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_open_offline(path, &errbuf) else { return -1 }
        defer { pcap_close(handle) }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        for _ in 1..<max(1, number) where pcap_next_ex(handle, &header, &data) != 1 {
            return -1
        }
        return pcap_file(handle).map { Int64(ftell($0)) } ?? -1
    }

    /// Capture time in ns since the epoch, clamped to a range where differences cannot overflow.
    static func nanoseconds(_ ts: timeval) -> Int64 {
        let limit = Int64.max / 4
        let (seconds, overflow) = Int64(ts.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow, seconds < limit, seconds > -limit else { return ts.tv_sec < 0 ? 0 : limit }
        return max(0, min(limit, seconds + Int64(ts.tv_usec)))
    }

    private static func string(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
