/// An IPv4 or IPv6 address in 128 bits (IPv4 in the low 32), cheap to hash and compare.
struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    var high: UInt64
    var low: UInt64
    var isIPv6: Bool

    init(ipv4: UInt32) {
        high = 0
        low = UInt64(ipv4)
        isIPv6 = false
    }

    init(ipv6High: UInt64, low: UInt64) {
        high = ipv6High
        self.low = low
        isIPv6 = true
    }

    static func < (a: IPAddress, b: IPAddress) -> Bool {
        (a.isIPv6 ? 1 : 0, a.high, a.low) < (b.isIPv6 ? 1 : 0, b.high, b.low)
    }

    /// Dotted quad, or RFC 5952 text (lowercase hex, longest run of two or more zero groups as `::`).
    var description: String {
        guard isIPv6 else {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        let groups: [UInt16] = (0..<8).map { i in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> UInt64(48 - 16 * (i % 4)))
        }
        var bestStart = -1, bestLength = 1, runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        return hex[..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLength)...].joined(separator: ":")
    }
}

/// An address and a TCP port; printed `address:port`, IPv6 as `[address]:port`.
struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    var address: IPAddress
    var port: UInt16

    static func < (a: Endpoint, b: Endpoint) -> Bool {
        (a.address, a.port) < (b.address, b.port)
    }

    var description: String {
        address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// TCP header flags.
struct TCPFlags: OptionSet, Hashable, Sendable {
    let rawValue: UInt8
    static let fin = TCPFlags(rawValue: 0x01)
    static let syn = TCPFlags(rawValue: 0x02)
    static let rst = TCPFlags(rawValue: 0x04)
    static let psh = TCPFlags(rawValue: 0x08)
    static let ack = TCPFlags(rawValue: 0x10)
}

/// One TCP segment decoded from a captured frame.
///
/// `payload` is a byte range of the frame the segment was decoded from; the frame's bytes are only
/// valid while that frame is being handled, so the segment carries offsets, not the bytes.
struct TCPSegment: Hashable, Sendable {
    var source: Endpoint
    var destination: Endpoint
    var sequence: UInt32
    var acknowledgment: UInt32
    var flags: TCPFlags
    var payload: Range<Int>
    var timestampNs: Int64
}
