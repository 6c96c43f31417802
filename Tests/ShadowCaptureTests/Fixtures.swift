import Foundation
import ShadowCore

@testable import ShadowCapture

/// Builders of crafted frames and capture files for the tests.
enum Frames {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func le32(_ v: UInt32) -> [UInt8] { be32(v).reversed() }

    static func ipv4(_ text: String) -> UInt32 {
        text.split(separator: ".").reduce(UInt32(0)) { $0 << 8 | UInt32($1)! }
    }

    /// A TCP header (with `options` padded to 4 bytes) followed by `payload`.
    static func tcp(
        sport: UInt16, dport: UInt16, seq: UInt32, ack: UInt32 = 0, flags: TCPFlags, options: [UInt8] = [], payload: [UInt8] = []
    ) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(1) }
        let offset = UInt8((20 + opts.count) / 4) << 4
        return be16(sport) + be16(dport) + be32(seq) + be32(ack) + [offset, flags.rawValue] + be16(65535) + [0, 0, 0, 0]
            + opts + payload
    }

    static func ipv4Packet(
        src: String, dst: String, proto: UInt8 = 6, fragment: UInt16 = 0x4000, options: [UInt8] = [], _ body: [UInt8]
    ) -> [UInt8] {
        let ihl = UInt8(5 + options.count / 4)
        let total = UInt16(Int(ihl) * 4 + body.count)
        return [0x40 | ihl, 0] + be16(total) + [0, 1] + be16(fragment) + [64, proto, 0, 0] + be32(ipv4(src)) + be32(ipv4(dst))
            + options + body
    }

    /// An IPv6 packet; `extensions` are (type, bytes) pairs, each bytes block's first byte rewritten
    /// to chain to the next header.
    static func ipv6Packet(src: [UInt8], dst: [UInt8], extensions: [(UInt8, [UInt8])] = [], next: UInt8 = 6, _ body: [UInt8]) -> [UInt8] {
        var chain: [UInt8] = []
        let types = extensions.map(\.0) + [next]
        for (i, ext) in extensions.enumerated() {
            var bytes = ext.1
            bytes[0] = types[i + 1]
            chain += bytes
        }
        let payload = chain + body
        return [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [types[0], 64] + src + dst + payload
    }

    static let loopback6: [UInt8] = Array(repeating: 0, count: 15) + [1]
    static let doc6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [0x42]

    static func ethernet(_ etherType: UInt16, vlans: [UInt16] = [], _ packet: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]
        for (i, tpid) in vlans.enumerated() {
            frame += be16(tpid) + be16(UInt16(100 + i))
        }
        return frame + be16(etherType) + packet
    }

    static func sll(_ proto: UInt16, _ packet: [UInt8]) -> [UInt8] {
        [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0] + be16(proto) + packet
    }

    static func sll2(_ proto: UInt16, _ packet: [UInt8]) -> [UInt8] {
        be16(proto) + [0, 0] + be32(1) + [0, 1, 0, 6] + [2, 0, 0, 0, 0, 1, 0, 0] + packet
    }
}

/// Writes classic pcap files (nanosecond magic) for importer tests.
struct PcapWriter {
    var data: [UInt8]
    private(set) var recordOffsets: [Int] = []

    init(linkType: UInt32 = 1) {
        data = Frames.le32(0xA1B2_3C4D) + [2, 0, 4, 0] + [0, 0, 0, 0] + [0, 0, 0, 0] + Frames.le32(262_144) + Frames.le32(linkType)
    }

    mutating func add(_ frame: [UInt8], ns: Int64) {
        recordOffsets.append(data.count)
        data += Frames.le32(UInt32(ns / 1_000_000_000)) + Frames.le32(UInt32(ns % 1_000_000_000))
        data += Frames.le32(UInt32(frame.count)) + Frames.le32(UInt32(frame.count)) + frame
    }

    func write(to path: String) throws {
        try Data(data).write(to: URL(fileURLWithPath: path))
    }
}

/// A TCP conversation between a client and a server, as Ethernet/IPv4 frames with running sequence numbers.
struct Conversation {
    var client = "10.0.0.1"
    var server = "10.0.0.2"
    var clientPort: UInt16 = 40000
    var serverPort: UInt16 = 8080
    var clientSeq: UInt32 = 1000
    var serverSeq: UInt32 = 5000
    var frames: [([UInt8], Int64)] = []
    var now: Int64 = 1_700_000_000_000_000_000

    mutating func packet(fromClient: Bool, flags: TCPFlags, payload: [UInt8] = [], seq: UInt32? = nil, advance: Bool = true, dt: Int64 = 1_000_000) {
        now += dt
        let s = seq ?? (fromClient ? clientSeq : serverSeq)
        let ack = fromClient ? serverSeq : clientSeq
        let tcp = Frames.tcp(
            sport: fromClient ? clientPort : serverPort, dport: fromClient ? serverPort : clientPort, seq: s, ack: ack,
            flags: flags, payload: payload)
        let ip = Frames.ipv4Packet(src: fromClient ? client : server, dst: fromClient ? server : client, tcp)
        frames.append((Frames.ethernet(0x0800, ip), now))
        if advance {
            let used = UInt32(payload.count) + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
            if fromClient { clientSeq &+= used } else { serverSeq &+= used }
        }
    }

    mutating func handshake() {
        packet(fromClient: true, flags: .syn)
        packet(fromClient: false, flags: [.syn, .ack])
        packet(fromClient: true, flags: .ack)
    }

    mutating func send(_ text: String, fromClient: Bool, dt: Int64 = 1_000_000) {
        packet(fromClient: fromClient, flags: [.ack, .psh], payload: Array(text.utf8), dt: dt)
    }

    mutating func close() {
        packet(fromClient: true, flags: [.fin, .ack])
        packet(fromClient: false, flags: [.fin, .ack])
        packet(fromClient: true, flags: .ack)
    }

    func pcap() -> PcapWriter {
        var writer = PcapWriter()
        for (frame, ns) in frames { writer.add(frame, ns: ns) }
        return writer
    }
}

/// A scratch directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "shadowcapture-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Imports a pcap file, collecting exchanges.
func importCapture(_ path: String, filter: String? = nil, limits: CaptureLimits = .init()) throws -> (CaptureSummary, [CapturedExchange]) {
    var exchanges: [CapturedExchange] = []
    let summary = try PcapFileImporter(path: path, filter: filter, limits: limits).run { exchanges.append($0) }
    return (summary, exchanges)
}

/// Imports frames written to a temporary pcap file.
func importFrames(_ writer: PcapWriter, limits: CaptureLimits = .init()) throws -> (CaptureSummary, [CapturedExchange]) {
    let dir = try TemporaryDirectory()
    defer { dir.remove() }
    let path = dir.path + "/capture.pcap"
    try writer.write(to: path)
    return try importCapture(path, limits: limits)
}

