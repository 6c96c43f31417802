import ShadowCore
import Testing

@testable import ShadowCapture

@Suite struct PacketDecoderTests {
    static let payload = Array("GET / HTTP/1.1\r\n\r\n".utf8)
    static let segment = Frames.tcp(
        sport: 40000, dport: 80, seq: 0xFFFF_FF00, ack: 7, flags: [.ack, .psh], options: [2, 4, 5, 0xB4, 1, 1, 8, 10] + [UInt8](repeating: 0, count: 8),
        payload: payload)
    static let ipv4 = Frames.ipv4Packet(src: "192.168.1.10", dst: "10.0.0.1", options: [1, 1, 1, 0], segment)
    static let ipv6 = Frames.ipv6Packet(src: Frames.doc6, dst: Frames.loopback6, segment)

    func decode(_ frame: [UInt8], _ linkType: PacketDecoder.LinkType) -> PacketDecoder.Result {
        frame.withUnsafeBytes { PacketDecoder(linkType: linkType).decode($0, timestampNs: 42) }
    }

    func expectSegment(_ frame: [UInt8], _ linkType: PacketDecoder.LinkType, ipv6: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .segment(let s) = decode(frame, linkType) else {
            Issue.record("no segment: \(decode(frame, linkType))", sourceLocation: sourceLocation)
            return
        }
        #expect(s.source.port == 40000 && s.destination.port == 80, sourceLocation: sourceLocation)
        #expect(s.sequence == 0xFFFF_FF00 && s.acknowledgment == 7, sourceLocation: sourceLocation)
        #expect(s.flags == [.ack, .psh], sourceLocation: sourceLocation)
        #expect(s.timestampNs == 42, sourceLocation: sourceLocation)
        #expect(Array(frame[s.payload]) == Self.payload, sourceLocation: sourceLocation)
        if ipv6 {
            #expect(s.source.description == "[2001:db8::42]:40000", sourceLocation: sourceLocation)
            #expect(s.destination.description == "[::1]:80", sourceLocation: sourceLocation)
        } else {
            #expect(s.source.description == "192.168.1.10:40000", sourceLocation: sourceLocation)
            #expect(s.destination.description == "10.0.0.1:80", sourceLocation: sourceLocation)
        }
    }

    @Test func ethernetIPv4WithIPAndTCPOptions() {
        expectSegment(Frames.ethernet(0x0800, Self.ipv4), .ethernet)
    }

    @Test func ethernetIPv6() {
        expectSegment(Frames.ethernet(0x86DD, Self.ipv6), .ethernet, ipv6: true)
    }

    @Test func vlanAndQinQ() {
        expectSegment(Frames.ethernet(0x0800, vlans: [0x8100], Self.ipv4), .ethernet)
        expectSegment(Frames.ethernet(0x0800, vlans: [0x88A8, 0x8100], Self.ipv4), .ethernet)
        expectSegment(Frames.ethernet(0x86DD, vlans: [0x8100], Self.ipv6), .ethernet, ipv6: true)
    }

    @Test func ethernetPaddingIsIgnored() {
        expectSegment(Frames.ethernet(0x0800, Self.ipv4) + [0, 0, 0, 0, 0, 0], .ethernet)
    }

    @Test func linuxCooked() {
        expectSegment(Frames.sll(0x0800, Self.ipv4), .linuxSLL)
        expectSegment(Frames.sll(0x86DD, Self.ipv6), .linuxSLL, ipv6: true)
        expectSegment(Frames.sll2(0x0800, Self.ipv4), .linuxSLL2)
        expectSegment(Frames.sll2(0x86DD, Self.ipv6), .linuxSLL2, ipv6: true)
        #expect(PacketDecoder.LinkType(dlt: 276) == .linuxSLL2)
    }

    @Test func bsdLoopbackInBothByteOrders() {
        expectSegment(Frames.le32(2) + Self.ipv4, .bsdLoopback)
        expectSegment(Frames.be32(2) + Self.ipv4, .bsdLoopback)
        for family: UInt32 in [24, 28, 30] {
            expectSegment(Frames.le32(family) + Self.ipv6, .bsdLoopback, ipv6: true)
            expectSegment(Frames.be32(family) + Self.ipv6, .bsdLoopback, ipv6: true)
        }
        #expect(decode(Frames.le32(7) + Self.ipv4, .bsdLoopback) == .dropped(.notIP))
        #expect(PacketDecoder.LinkType(dlt: 0) == .bsdLoopback && PacketDecoder.LinkType(dlt: 108) == .bsdLoopback)
    }

    @Test func rawIP() {
        for dlt: Int32 in [12, 14, 101] { #expect(PacketDecoder.LinkType(dlt: dlt) == .rawIP) }
        expectSegment(Self.ipv4, .rawIP)
        expectSegment(Self.ipv6, .rawIP, ipv6: true)
        expectSegment(Self.ipv4, .ipv4)
        expectSegment(Self.ipv6, .ipv6, ipv6: true)
        #expect(PacketDecoder.LinkType(dlt: 228) == .ipv4 && PacketDecoder.LinkType(dlt: 229) == .ipv6)
        #expect(PacketDecoder.LinkType(dlt: 105) == nil)
    }

    @Test func ipv6ExtensionHeadersAreSkipped() {
        let hopByHop: [UInt8] = [0, 0, 1, 4, 0, 0, 0, 0]
        let destination: [UInt8] = [0, 1] + [UInt8](repeating: 0, count: 14)
        let atomicFragment: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 9]
        let packet = Frames.ipv6Packet(
            src: Frames.doc6, dst: Frames.loopback6, extensions: [(0, hopByHop), (60, destination), (44, atomicFragment)], Self.segment)
        expectSegment(Frames.ethernet(0x86DD, packet), .ethernet, ipv6: true)
    }

    @Test func fragmentsAreCounted() {
        let moreFragments = Frames.ipv4Packet(src: "1.2.3.4", dst: "5.6.7.8", fragment: 0x2000, Self.segment)
        let laterFragment = Frames.ipv4Packet(src: "1.2.3.4", dst: "5.6.7.8", fragment: 0x0010, Self.segment)
        #expect(decode(moreFragments, .rawIP) == .dropped(.ipFragment))
        #expect(decode(laterFragment, .rawIP) == .dropped(.ipFragment))
        let fragment6 = Frames.ipv6Packet(src: Frames.doc6, dst: Frames.loopback6, extensions: [(44, [0, 0, 0, 0x11, 0, 0, 0, 9])], Self.segment)
        #expect(decode(fragment6, .rawIP) == .dropped(.ipFragment))
    }

    @Test func nonTCPAndNonIP() {
        #expect(decode(Frames.ipv4Packet(src: "1.2.3.4", dst: "5.6.7.8", proto: 17, [0, 53, 0, 53, 0, 8, 0, 0]), .rawIP) == .dropped(.notTCP))
        #expect(decode(Frames.ipv6Packet(src: Frames.doc6, dst: Frames.loopback6, next: 58, [128, 0, 0, 0]), .rawIP) == .dropped(.notTCP))
        #expect(decode(Frames.ethernet(0x0806, [UInt8](repeating: 0, count: 28)), .ethernet) == .dropped(.notIP))
        #expect(decode(Frames.ethernet(0x88CC, vlans: [0x8100], [1, 2, 3]), .ethernet) == .dropped(.notIP))
    }

    @Test func truncatedAndMalformed() {
        let frame = Frames.ethernet(0x0800, Self.ipv4)
        #expect(decode(Array(frame.prefix(frame.count - 1)), .ethernet) == .dropped(.truncatedPacket))
        #expect(decode(Array(frame.prefix(20)), .ethernet) == .dropped(.truncatedPacket))
        var badIHL = Self.ipv4
        badIHL[0] = 0x44
        #expect(decode(badIHL, .ipv4) == .dropped(.malformedPacket))
        var badVersion = Self.ipv4
        badVersion[0] = 0x56
        #expect(decode(badVersion, .ipv4) == .dropped(.malformedPacket))
        var badOffset = Self.ipv4
        badOffset[24 + 12] = 0x30
        #expect(decode(badOffset, .ipv4) == .dropped(.malformedPacket))
        var hugeOffset = Self.ipv4
        hugeOffset[24 + 12] = 0xF0
        #expect(decode(hugeOffset, .ipv4) == .dropped(.malformedPacket))
    }

    @Test func everyPrefixAndRandomBytesDecodeWithoutTrapping() {
        let frames: [([UInt8], PacketDecoder.LinkType)] = [
            (Frames.ethernet(0x0800, vlans: [0x8100], Self.ipv4), .ethernet), (Frames.sll(0x86DD, Self.ipv6), .linuxSLL),
            (Frames.sll2(0x0800, Self.ipv4), .linuxSLL2), (Frames.le32(30) + Self.ipv6, .bsdLoopback), (Self.ipv6, .rawIP),
        ]
        for (frame, type) in frames {
            for n in 0..<frame.count {
                if case .segment = decode(Array(frame.prefix(n)), type) { Issue.record("prefix \(n) of \(type) decoded") }
            }
        }
        var rng = SplitMix64(seed: 7)
        let types: [PacketDecoder.LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .bsdLoopback, .rawIP, .ipv4, .ipv6]
        for i in 0..<20_000 {
            let (base, _) = frames[i % frames.count]
            var bytes = base
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if i % 3 == 0 { bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
            if case .segment(let s) = decode(bytes, types[i % types.count]) {
                #expect(s.payload.lowerBound >= 0 && s.payload.upperBound <= bytes.count)
            }
        }
    }

    @Test func ipv6AddressText() {
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 0x0000_0000_0000_0001).description == "2001:db8::1")
        #expect(IPAddress(ipv6High: 0, low: 1).description == "::1")
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0001, low: 0x0000_0000_0001_0000).description == "2001:db8:0:1::1:0")
        #expect(IPAddress(ipv6High: 0xfe80_0000_0000_0000, low: 0x0211_22ff_fe33_4455).description == "fe80::211:22ff:fe33:4455")
        #expect(IPAddress(ipv4: 0x7F00_0001).description == "127.0.0.1")
    }
}
