#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level HTTP/1.x grammar checks (RFC 9110 / 9112), on slices of a reader's buffer.
///
/// Pure functions: they only look at the bytes they are given, never past them.
enum HTTP1Syntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let ht: UInt8 = 0x09

    /// RFC 9110 `tchar` lookup: `!#$%&'*+-.^_`|~`, digits and letters.
    private static let tcharTable: [Bool] = (0..<256).map { b in
        switch UInt8(b) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(UInt8(b))
        }
    }

    @inline(__always) static func isTchar(_ b: UInt8) -> Bool { tcharTable[Int(b)] }

    /// Visible characters, space, tab and obs-text: what a field value or reason phrase may hold.
    @inline(__always) static func isFieldByte(_ b: UInt8) -> Bool { b >= 0x20 && b != 0x7F || b == ht }

    static let maxMethodLength = 32

    /// Index of the first LF in `bytes[from..<bytes.count]`.
    static func firstLF(in bytes: [UInt8], from: Int) -> Int? {
        guard from < bytes.count else { return nil }
        return bytes.withUnsafeBytes { raw -> Int? in
            guard let base = raw.baseAddress else { return nil }
            guard let hit = memchr(base + from, Int32(lf), raw.count - from) else { return nil }
            return base.distance(to: UnsafeRawPointer(hit))
        }
    }

    /// The line `bytes[start..<lf]` without a trailing CR.
    @inline(__always) static func lineEnd(_ bytes: [UInt8], start: Int, lf: Int) -> Int {
        lf > start && bytes[lf - 1] == cr ? lf - 1 : lf
    }

    /// Whether `bytes[start..<end]`, the beginning of a start line that has not ended yet, can still
    /// become a valid one. Lets binary data be rejected after a few bytes, not after a header's worth.
    static func plausibleStartLinePrefix(_ bytes: [UInt8], _ start: Int, _ end: Int, role: HTTP1Role) -> Bool {
        guard start < end else { return true }
        switch role {
        case .request:
            var i = start
            while i < end && bytes[i] != sp {
                guard isTchar(bytes[i]), i - start < maxMethodLength else { return false }
                i += 1
            }
            guard i > start || i == end else { return false }
            while i < end {
                let b = bytes[i]
                guard b >= 0x20 && b != 0x7F || (b == cr && i == end - 1) else { return false }
                i += 1
            }
            return true
        case .response:
            let prefix: [UInt8] = Array("HTTP/1.".utf8)
            var i = start
            while i < end && i - start < prefix.count {
                guard bytes[i] == prefix[i - start] else { return false }
                i += 1
            }
            while i < end {
                let b = bytes[i]
                guard isFieldByte(b) || (b == cr && i == end - 1) else { return false }
                i += 1
            }
            return true
        }
    }

    /// `method SP request-target SP HTTP/1.d`: the three parts, or nil.
    static func requestLine(_ bytes: [UInt8], _ start: Int, _ end: Int) -> (String, String, String)? {
        var i = start
        while i < end && bytes[i] != sp {
            guard isTchar(bytes[i]) else { return nil }
            i += 1
        }
        let methodEnd = i
        guard methodEnd > start, methodEnd - start <= maxMethodLength, i < end else { return nil }
        i += 1
        let targetStart = i
        while i < end && bytes[i] != sp {
            let b = bytes[i]
            guard b > 0x20 && b != 0x7F else { return nil }
            i += 1
        }
        let targetEnd = i
        guard targetEnd > targetStart, i < end else { return nil }
        i += 1
        guard isVersion(bytes, i, end) else { return nil }
        return (
            String(decoding: bytes[start..<methodEnd], as: UTF8.self),
            String(decoding: bytes[targetStart..<targetEnd], as: UTF8.self),
            String(decoding: bytes[i..<end], as: UTF8.self)
        )
    }

    /// Whether the bytes begin as a request line does: a method of uppercase letters, then a space.
    static func startsLikeRequestLine(_ bytes: some Collection<UInt8>) -> Bool {
        for (i, b) in bytes.prefix(maxMethodLength + 1).enumerated() {
            if b == sp { return i > 0 }
            guard b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") else { return false }
        }
        return false
    }

    /// Whether the line is the HTTP/2 connection preface's first line, `PRI * HTTP/2.0`.
    static func isHTTP2Preface(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Bool {
        bytes[start..<end].elementsEqual("PRI * HTTP/2.0".utf8)
    }

    /// `HTTP/1.d SP 3DIGIT [SP reason]`: version, status code and reason, or nil.
    static func statusLine(_ bytes: [UInt8], _ start: Int, _ end: Int) -> (String, Int, String)? {
        guard end - start >= 12, isVersion(bytes, start, start + 8), bytes[start + 8] == sp else { return nil }
        var status = 0
        for i in (start + 9)..<(start + 12) {
            let b = bytes[i]
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            status = status * 10 + Int(b - UInt8(ascii: "0"))
        }
        guard status >= 100 else { return nil }
        var reasonStart = start + 12
        if reasonStart < end {
            guard bytes[reasonStart] == sp else { return nil }
            reasonStart += 1
        }
        for i in reasonStart..<max(reasonStart, end) where !isFieldByte(bytes[i]) { return nil }
        return (
            String(decoding: bytes[start..<(start + 8)], as: UTF8.self), status,
            String(decoding: bytes[min(reasonStart, end)..<end], as: UTF8.self)
        )
    }

    private static func isVersion(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Bool {
        guard end - start == 8, bytes[start..<(start + 7)].elementsEqual("HTTP/1.".utf8) else { return false }
        let minor = bytes[start + 7]
        return minor >= UInt8(ascii: "0") && minor <= UInt8(ascii: "9")
    }

    /// `name ":" OWS value OWS`: the name and value ranges, or nil (no colon, empty or invalid name,
    /// control characters in the value).
    static func field(_ bytes: [UInt8], _ start: Int, _ end: Int) -> (name: Range<Int>, value: Range<Int>)? {
        var i = start
        while i < end && bytes[i] != UInt8(ascii: ":") {
            guard isTchar(bytes[i]) else { return nil }
            i += 1
        }
        guard i > start, i < end else { return nil }
        let name = start..<i
        i += 1
        var valueStart = i, valueEnd = end
        while valueStart < valueEnd && (bytes[valueStart] == sp || bytes[valueStart] == ht) { valueStart += 1 }
        while valueEnd > valueStart && (bytes[valueEnd - 1] == sp || bytes[valueEnd - 1] == ht) { valueEnd -= 1 }
        for j in valueStart..<valueEnd where !isFieldByte(bytes[j]) { return nil }
        return (name, valueStart..<valueEnd)
    }

    /// Case-insensitive comparison of `bytes[range]` with a lowercase ASCII name.
    static func nameEquals(_ bytes: [UInt8], _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { name in
            var j = 0
            for i in range {
                var b = bytes[i]
                if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { b |= 0x20 }
                guard b == name[j] else { return false }
                j += 1
            }
            return true
        }
    }

    /// A chunk-size line: hex size, optional whitespace and `;extensions`. Nil when invalid or over 15 digits.
    static func chunkSize(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Int? {
        var i = start
        var size = 0
        while i < end, let digit = hexValue(bytes[i]) {
            guard i - start < 15 else { return nil }
            size = size << 4 | digit
            i += 1
        }
        guard i > start else { return nil }
        while i < end && (bytes[i] == sp || bytes[i] == ht) { i += 1 }
        guard i == end || bytes[i] == UInt8(ascii: ";") else { return nil }
        return size
    }

    @inline(__always) private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// A Content-Length value: a decimal, or a list of identical decimals (`5, 5`). Nil when invalid.
    static func contentLength(_ value: String) -> Int? {
        var result: Int?
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let digits = trimmed(part).utf8
            guard !digits.isEmpty, digits.count <= 18,
                  digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { return nil }
            let n = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard result == nil || result == n else { return nil }
            result = n
        }
        return result
    }

    /// Whether the last transfer coding of a Transfer-Encoding value list is `chunked`.
    static func endsWithChunked(_ value: String) -> Bool {
        guard let last = value.split(separator: ",").last else { return false }
        return trimmed(last).lowercased() == "chunked"
    }

    /// Whether a comma-separated field value lists `token` (case-insensitive).
    static func listContains(_ value: String, _ token: String) -> Bool {
        value.split(separator: ",").contains { trimmed($0).lowercased() == token }
    }

    private static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
