import ShadowCore

/// A call's outcome: `grpc-status` and its percent-decoded `grpc-message`.
public struct GRPCStatus: Hashable, Sendable {
    public var code: Int
    public var message: String?

    public init(code: Int, message: String? = nil) {
        self.code = code
        self.message = message
    }

    public var isOK: Bool { code == 0 }
}

/// The gRPC-over-HTTP/2 conventions for header values (the gRPC PROTOCOL-HTTP2 document).
public enum GRPCMetadata {
    /// Whether a `content-type` is gRPC's (`application/grpc`, optionally `+proto`, `;...`).
    public static func isGRPC(contentType: String?) -> Bool {
        guard let type = contentType?.lowercased() else { return false }
        return type == "application/grpc" || type.hasPrefix("application/grpc+") || type.hasPrefix("application/grpc;")
    }

    /// `grpc-status` and `grpc-message` from trailers (or a trailers-only response's headers).
    public static func status(in fields: [HeaderField]) -> GRPCStatus? {
        guard let text = fields.first("grpc-status"), let code = Int(trimmed(text)), code >= 0 else { return nil }
        return GRPCStatus(code: code, message: fields.first("grpc-message").map(percentDecode))
    }

    /// Undoes the percent-encoding of `grpc-message`; a malformed escape is kept as it is.
    public static func percentDecode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x25, i + 2 < bytes.count, let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a `-bin` header's value: base64, padded or not; several values may be
    /// joined by commas. Nil when the value is not base64.
    public static func binaryValue(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        for part in text.utf8.split(separator: 0x2C) {
            guard let bytes = base64Decode(Array(part).filter { $0 != 0x20 }) else { return nil }
            out.append(contentsOf: bytes)
        }
        return out
    }

    /// `grpc-timeout` in nanoseconds: at most 8 digits and a unit (H, M, S, m, u, n).
    public static func timeoutNs(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 9 else { return nil }
        var value: Int64 = 0
        for digit in bytes.dropLast() {
            guard digit >= 0x30, digit <= 0x39 else { return nil }
            value = value * 10 + Int64(digit - 0x30)
        }
        let unit: Int64
        switch bytes.last! {
        case UInt8(ascii: "H"): unit = 3_600_000_000_000
        case UInt8(ascii: "M"): unit = 60_000_000_000
        case UInt8(ascii: "S"): unit = 1_000_000_000
        case UInt8(ascii: "m"): unit = 1_000_000
        case UInt8(ascii: "u"): unit = 1_000
        case UInt8(ascii: "n"): unit = 1
        default: return nil
        }
        return value * unit
    }

    private static func trimmed(_ text: String) -> Substring {
        var text = text[...]
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private static func base64Decode(_ text: [UInt8]) -> [UInt8]? {
        var symbols = text[...]
        while symbols.last == 0x3D { symbols.removeLast() }
        guard text.count - symbols.count <= 2, symbols.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count * 3 / 4)
        var accumulator: UInt32 = 0, bits = 0
        for symbol in symbols {
            let value: UInt32
            switch symbol {
            case 0x41...0x5A: value = UInt32(symbol - 0x41)
            case 0x61...0x7A: value = UInt32(symbol - 0x61 + 26)
            case 0x30...0x39: value = UInt32(symbol - 0x30 + 52)
            case 0x2B, 0x2D: value = 62
            case 0x2F, 0x5F: value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}
