import ShadowCore

/// Decodes link, IP and TCP headers of captured frames into `TCPSegment`s.
///
/// Contract: every frame is untrusted. Each length is checked against the bytes actually captured
/// before it is used, arithmetic cannot overflow (offsets stay below the frame size), and any frame
/// that is not a whole, unfragmented TCP segment yields the `DropReason` it is counted under.
struct PacketDecoder: Sendable {
    /// The link layers understood, by libpcap DLT value.
    enum LinkType: Sendable, Equatable {
        /// DLT_EN10MB, with any number of 802.1Q / 802.1ad VLAN tags.
        case ethernet
        /// DLT_LINUX_SLL (113).
        case linuxSLL
        /// DLT_LINUX_SLL2 (276).
        case linuxSLL2
        /// DLT_NULL / DLT_LOOP: 4-byte address family, in either byte order.
        case bsdLoopback
        /// DLT_RAW (12, 14), LINKTYPE_RAW (101): IPv4 or IPv6 by the version nibble.
        case rawIP
        /// LINKTYPE_IPV4 (228).
        case ipv4
        /// LINKTYPE_IPV6 (229).
        case ipv6

        /// Nil for link types that are not decoded.
        init?(dlt: Int32) {
            switch dlt {
            case 1: self = .ethernet
            case 113: self = .linuxSLL
            case 276: self = .linuxSLL2
            case 0, 108: self = .bsdLoopback
            case 12, 14, 101: self = .rawIP
            case 228: self = .ipv4
            case 229: self = .ipv6
            default: return nil
            }
        }
    }

    enum Result: Sendable, Equatable {
        case segment(TCPSegment)
        case dropped(DropReason)
    }

    let linkType: LinkType

    init(linkType: LinkType) {
        self.linkType = linkType
    }

    private static let maxVLANTags = 8

    func decode(_ frame: UnsafeRawBufferPointer, timestampNs: Int64) -> Result {
        let bytes = Bytes(frame)
        switch linkType {
        case .ethernet:
            guard let type = bytes.u16(12) else { return .dropped(.truncatedPacket) }
            return etherType(type, at: 14, bytes, timestampNs, vlanTags: 0)
        case .linuxSLL:
            guard let type = bytes.u16(14) else { return .dropped(.truncatedPacket) }
            return etherType(type, at: 16, bytes, timestampNs, vlanTags: 0)
        case .linuxSLL2:
            guard let type = bytes.u16(0), bytes.count >= 20 else { return .dropped(.truncatedPacket) }
            return etherType(type, at: 20, bytes, timestampNs, vlanTags: 0)
        case .bsdLoopback:
            guard let raw = bytes.u32(0) else { return .dropped(.truncatedPacket) }
            // The family is in the capturing host's byte order (DLT_NULL) or network order (DLT_LOOP).
            let family = raw & 0xFFFF == 0 ? raw.byteSwapped : raw
            switch family {
            case 2: return ipv4(bytes, at: 4, timestampNs)
            case 10, 24, 28, 30: return ipv6(bytes, at: 4, timestampNs)
            default: return .dropped(.notIP)
            }
        case .rawIP:
            guard let first = bytes.u8(0) else { return .dropped(.truncatedPacket) }
            switch first >> 4 {
            case 4: return ipv4(bytes, at: 0, timestampNs)
            case 6: return ipv6(bytes, at: 0, timestampNs)
            default: return .dropped(.notIP)
            }
        case .ipv4:
            return ipv4(bytes, at: 0, timestampNs)
        case .ipv6:
            return ipv6(bytes, at: 0, timestampNs)
        }
    }

    private func etherType(_ type: UInt16, at offset: Int, _ bytes: Bytes, _ ts: Int64, vlanTags: Int) -> Result {
        switch type {
        case 0x0800:
            return ipv4(bytes, at: offset, ts)
        case 0x86DD:
            return ipv6(bytes, at: offset, ts)
        case 0x8100, 0x88A8, 0x9100:
            guard vlanTags < Self.maxVLANTags else { return .dropped(.malformedPacket) }
            guard let inner = bytes.u16(offset + 2) else { return .dropped(.truncatedPacket) }
            return etherType(inner, at: offset + 4, bytes, ts, vlanTags: vlanTags + 1)
        default:
            return .dropped(.notIP)
        }
    }

    private func ipv4(_ bytes: Bytes, at base: Int, _ ts: Int64) -> Result {
        guard let versionIHL = bytes.u8(base), let totalLength = bytes.u16(base + 2),
              let fragment = bytes.u16(base + 6), let proto = bytes.u8(base + 9),
              let src = bytes.u32(base + 12), let dst = bytes.u32(base + 16)
        else { return .dropped(.truncatedPacket) }
        let headerLength = Int(versionIHL & 0x0F) * 4
        guard versionIHL >> 4 == 4, headerLength >= 20 else { return .dropped(.malformedPacket) }
        // Zero total length: a segmentation-offload frame on the capturing host; use what was captured.
        let length = totalLength == 0 ? bytes.count - base : Int(totalLength)
        guard length >= headerLength else { return .dropped(.malformedPacket) }
        guard fragment & 0x3FFF == 0 else { return .dropped(.ipFragment) }
        guard proto == 6 else { return .dropped(.notTCP) }
        guard length <= bytes.count - base else { return .dropped(.truncatedPacket) }
        return tcp(bytes, from: base + headerLength, to: base + length, IPAddress(ipv4: src), IPAddress(ipv4: dst), ts)
    }

    private static let maxExtensionHeaders = 16

    private func ipv6(_ bytes: Bytes, at base: Int, _ ts: Int64) -> Result {
        guard let version = bytes.u8(base), let payloadLength = bytes.u16(base + 4), var next = bytes.u8(base + 6),
              let srcHigh = bytes.u64(base + 8), let srcLow = bytes.u64(base + 16),
              let dstHigh = bytes.u64(base + 24), let dstLow = bytes.u64(base + 32)
        else { return .dropped(.truncatedPacket) }
        guard version >> 4 == 6 else { return .dropped(.malformedPacket) }
        // Zero payload length: a jumbogram or an offload frame; use what was captured.
        let end = payloadLength == 0 ? bytes.count : base + 40 + Int(payloadLength)
        guard end <= bytes.count else { return .dropped(.truncatedPacket) }
        var offset = base + 40
        var seen = 0
        while next != 6 {
            seen += 1
            guard seen <= Self.maxExtensionHeaders else { return .dropped(.malformedPacket) }
            let length: Int
            switch next {
            case 0, 43, 60, 135, 139, 140, 51, 44:
                guard offset + 8 <= end, let extLength = bytes.u8(offset + 1) else { return .dropped(.malformedPacket) }
                length = next == 51 ? (Int(extLength) + 2) * 4 : next == 44 ? 8 : (Int(extLength) + 1) * 8
            default:
                return .dropped(.notTCP)
            }
            if next == 44 {
                guard let fragment = bytes.u16(offset + 2) else { return .dropped(.malformedPacket) }
                // An atomic fragment (offset 0, no more fragments) carries the whole packet.
                guard fragment & 0xFFF9 == 0 else { return .dropped(.ipFragment) }
            }
            guard let nextHeader = bytes.u8(offset) else { return .dropped(.malformedPacket) }
            next = nextHeader
            offset += length
            guard offset <= end else { return .dropped(.malformedPacket) }
        }
        return tcp(
            bytes, from: offset, to: end, IPAddress(ipv6High: srcHigh, low: srcLow),
            IPAddress(ipv6High: dstHigh, low: dstLow), ts)
    }

    private func tcp(_ bytes: Bytes, from start: Int, to end: Int, _ src: IPAddress, _ dst: IPAddress, _ ts: Int64) -> Result {
        guard end - start >= 20 else { return .dropped(.malformedPacket) }
        guard let srcPort = bytes.u16(start), let dstPort = bytes.u16(start + 2), let seq = bytes.u32(start + 4),
              let ack = bytes.u32(start + 8), let offsetByte = bytes.u8(start + 12), let flags = bytes.u8(start + 13)
        else { return .dropped(.truncatedPacket) }
        let headerLength = Int(offsetByte >> 4) * 4
        guard headerLength >= 20, headerLength <= end - start else { return .dropped(.malformedPacket) }
        return .segment(TCPSegment(
            source: Endpoint(address: src, port: srcPort), destination: Endpoint(address: dst, port: dstPort),
            sequence: seq, acknowledgment: ack, flags: TCPFlags(rawValue: flags),
            payload: (start + headerLength)..<end, timestampNs: ts))
    }
}

/// Big-endian reads from a frame that return nil instead of reading past its end.
private struct Bytes {
    let raw: UnsafeRawBufferPointer

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    var count: Int { raw.count }

    @inline(__always) func u8(_ at: Int) -> UInt8? {
        at >= 0 && at < raw.count ? raw[at] : nil
    }

    @inline(__always) func u16(_ at: Int) -> UInt16? {
        guard at >= 0, at <= raw.count - 2 else { return nil }
        return UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    @inline(__always) func u32(_ at: Int) -> UInt32? {
        guard at >= 0, at <= raw.count - 4 else { return nil }
        return UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    @inline(__always) func u64(_ at: Int) -> UInt64? {
        guard at >= 0, at <= raw.count - 8 else { return nil }
        return UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }
}
