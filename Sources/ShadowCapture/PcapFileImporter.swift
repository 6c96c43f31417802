import CLibpcap
import Foundation
import ShadowCore

/// Imports HTTP/1.x exchanges from a pcap or pcapng file, read through libpcap with nanosecond timestamps.
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
    /// (`ShadowError.truncatedCapture`, with the byte offset of the damaged record) throws after the
    /// exchanges read before the damage were emitted. An error thrown by `sink` stops the import.
    public func run(_ sink: (CapturedExchange) throws -> Void) throws -> CaptureSummary {
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

        let decoder = PacketDecoder.LinkType(dlt: dlt).map(PacketDecoder.init(linkType:))
        var table = ConnectionTable(limits: limits)
        var tally = CaptureTally()
        var firstNs: Int64?
        var lastNs: Int64?
        let file = pcap_file(handle)
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?

        while true {
            let offset = file.map { Int64(ftell($0)) } ?? -1
            let rc = pcap_next_ex(handle, &header, &data)
            if rc == PCAP_ERROR_BREAK { break }
            if rc == 0 { continue }
            guard rc == 1, let header, let data else {
                let detail = String(cString: pcap_geterr(handle))
                table.closeAll(tally: &tally)
                try drain(&table.outbox, sink)
                throw ShadowError.truncatedCapture(path: path, offset: offset, detail: detail)
            }
            let ts = Self.nanoseconds(header.pointee.ts)
            let captured = Int(header.pointee.caplen)
            tally.packets += 1
            tally.bytes += Int64(captured)
            if firstNs == nil { firstNs = ts }
            lastNs = ts
            if filter != nil && pcap_offline_filter(&program, header, data) == 0 {
                tally.add(.filtered)
                continue
            }
            guard let decoder else {
                tally.add(.unsupportedLinkType)
                continue
            }
            let frame = UnsafeRawBufferPointer(start: data, count: captured)
            switch decoder.decode(frame, timestampNs: ts) {
            case .segment(let segment):
                table.handle(segment, payload: UnsafeRawBufferPointer(rebasing: frame[segment.payload]), tally: &tally)
                if !table.outbox.isEmpty { try drain(&table.outbox, sink) }
            case .dropped(let reason):
                tally.add(reason)
            }
            table.sweep(nowNs: ts, tally: &tally)
        }
        table.closeAll(tally: &tally)
        try drain(&table.outbox, sink)
        return CaptureSummary(counters: tally.counters, firstPacketNs: firstNs, lastPacketNs: lastNs, linkType: linkType)
    }

    private func drain(_ outbox: inout [CapturedExchange], _ sink: (CapturedExchange) throws -> Void) throws {
        defer { outbox.removeAll(keepingCapacity: true) }
        for exchange in outbox { try sink(exchange) }
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
