import Foundation
import NIOCore
import ShadowCore

/// Why bytes cannot be framed as an HTTP/1.x message.
public enum HTTP1FramingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The head (or the trailers) is longer than the limit.
    case headTooLarge
    /// The head (or the trailers) has more fields than the limit.
    case tooManyFields
    case malformed(String)

    public var description: String {
        switch self {
        case .headTooLarge: "head too large"
        case .tooManyFields: "too many header fields"
        case .malformed(let detail): detail
        }
    }
}

/// How a message's body is delimited (RFC 9112 §6).
public enum HTTP1BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
    /// Responses only: the body ends when the connection closes.
    case untilClose
}

/// What a response's framing depends on in its request (RFC 9112 §6.3).
public enum HTTP1RequestKind: Equatable, Sendable {
    case head, connect, other

    public init(method: String) {
        switch method {
        case "HEAD": self = .head
        case "CONNECT": self = .connect
        default: self = .other
        }
    }
}

/// A message head parsed from its raw bytes: the start line, and the fields that framing and
/// forwarding depend on. The raw bytes themselves are forwarded unchanged.
///
/// Strict where a lenient reading would let the tee and the upstream disagree on where a message
/// ends (request smuggling): both Transfer-Encoding and Content-Length, differing Content-Lengths, a
/// request Transfer-Encoding not ending in `chunked`, obsolete line folding, whitespace before a
/// field's colon, control bytes, and (in requests, which the tee forwards unchanged) a line ending
/// in a bare LF are all malformed.
public struct HTTP1Head: Sendable {
    /// Request: method. Response: empty.
    public var method = ""
    /// Request: target. Response: empty.
    public var target = ""
    /// Response: status code. Request: 0.
    public var status = 0
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    public var minorVersion = 1
    public var framing = HTTP1BodyFraming.none
    /// Whether the connection may carry another message after this one.
    public var keepAlive = true
    public var expectsContinue = false
    /// Header fields in the head.
    public var fieldCount = 0

    public var version: String { "HTTP/1.\(minorVersion)" }

    public static let maxMethodBytes = 32

    /// Parses a request head (start line to blank line inclusive).
    public static func request(_ head: ByteBuffer) throws(HTTP1FramingError) -> HTTP1Head {
        try head.withUnsafeReadableBytes { bytes throws(HTTP1FramingError) in
            try parse(bytes, role: .request(kind: .other), field: nil)
        }
    }

    /// Parses a response head answering a request of `kind`.
    public static func response(_ head: ByteBuffer, answering kind: HTTP1RequestKind) throws(HTTP1FramingError) -> HTTP1Head {
        try head.withUnsafeReadableBytes { bytes throws(HTTP1FramingError) in
            try parse(bytes, role: .response(answering: kind), field: nil)
        }
    }

    /// The head's fields in the store's text form, `Name: value` lines joined by CRLF in wire order
    /// and case, values without surrounding whitespace (`[HeaderField].wireText`), built in one
    /// pass without a string per field. Values of fields named in `redacting` (lower-case names) become
    /// `replacement`; `redacted` counts them. Nil when the head does not parse.
    public static func storedFieldText(
        of head: ByteBuffer, isRequest: Bool, redacting: [[UInt8]] = [], replacement: [UInt8] = []
    ) -> (head: HTTP1Head, text: [UInt8], redacted: Int)? {
        var text: [UInt8] = []
        text.reserveCapacity(head.readableBytes)
        var redacted = 0
        let parsed: HTTP1Head? = head.withUnsafeReadableBytes { bytes in
            try? parse(bytes, role: isRequest ? .request(kind: .other) : .response(answering: .other)) { name, value in
                if !text.isEmpty { text.append(contentsOf: [cr, lf]) }
                text.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[name]))
                text.append(contentsOf: [colon, sp])
                if !redacting.isEmpty && redacting.contains(where: { equalsLowercase(bytes, name, $0) }) {
                    redacted += 1
                    text.append(contentsOf: replacement)
                } else {
                    text.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[value]))
                }
            }
        }
        // Obs-text in a value: stored repaired, as `String(decoding:as:)` would per field.
        if text.contains(where: { $0 >= 0x80 }) { text = Array(String(decoding: text, as: UTF8.self).utf8) }
        return parsed.map { ($0, text, redacted) }
    }

    /// The first value of field `name` (case-insensitive), or nil.
    public static func value(of name: String, in head: ByteBuffer) -> String? {
        let wanted = Array(name.lowercased().utf8)
        var found: String?
        _ = head.withUnsafeReadableBytes { bytes in
            try? parse(bytes, role: .request(kind: .other)) { nameRange, valueRange in
                if found == nil && equalsLowercase(bytes, nameRange, wanted) {
                    found = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueRange]), as: UTF8.self)
                }
            }
        }
        return found
    }

    // MARK: Parsing

    enum Role {
        case request(kind: HTTP1RequestKind)
        case response(answering: HTTP1RequestKind)
    }

    private static let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, sp: UInt8 = 0x20, ht: UInt8 = 0x09, colon: UInt8 = 0x3A

    private static let tchar: [Bool] = (0..<256).map { b in
        switch UInt8(b) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(UInt8(b))
        }
    }

    /// Parses `bytes` (a whole head, ending in a blank line); `field` sees each field's name and value ranges.
    static func parse(
        _ bytes: UnsafeRawBufferPointer, role: Role, field: ((Range<Int>, Range<Int>) -> Void)?
    ) throws(HTTP1FramingError) -> HTTP1Head {
        var head = HTTP1Head()
        var lineStart = 0
        var contentLength: Int?
        var transferEncoding: [UInt8]?
        var connectionClose = false, connectionKeepAlive = false
        var first = true
        while lineStart < bytes.count {
            guard let lfIndex = firstLF(bytes, from: lineStart) else { throw .malformed("head does not end in a blank line") }
            var end = lfIndex
            if end > lineStart && bytes[end - 1] == cr {
                end -= 1
            } else if case .request = role {
                throw .malformed("bare LF line ending")
            }
            defer { lineStart = lfIndex + 1 }
            if first {
                first = false
                switch role {
                case .request: try parseRequestLine(bytes, lineStart..<end, into: &head)
                case .response: try parseStatusLine(bytes, lineStart..<end, into: &head)
                }
                continue
            }
            if end == lineStart { break }
            let (name, value) = try parseField(bytes, lineStart..<end)
            head.fieldCount += 1
            field?(name, value)
            if equalsLowercase(bytes, name, contentLengthName) {
                let length = try parseContentLength(bytes, value)
                if let contentLength, contentLength != length { throw .malformed("differing Content-Length values") }
                contentLength = length
            } else if equalsLowercase(bytes, name, transferEncodingName) {
                if transferEncoding != nil { transferEncoding!.append(UInt8(ascii: ",")) }
                transferEncoding = (transferEncoding ?? []) + lowercased(bytes, value)
            } else if equalsLowercase(bytes, name, connectionName) {
                for token in tokens(lowercased(bytes, value)) {
                    if token.elementsEqual("close".utf8) { connectionClose = true }
                    if token.elementsEqual("keep-alive".utf8) { connectionKeepAlive = true }
                }
            } else if equalsLowercase(bytes, name, expectName) {
                head.expectsContinue = lowercased(bytes, value).elementsEqual("100-continue".utf8)
            }
        }
        if first { throw .malformed("empty head") }
        head.keepAlive = connectionClose ? false : (head.minorVersion == 1 || connectionKeepAlive)
        let chunked = transferEncoding.map { tokens($0).last?.elementsEqual("chunked".utf8) ?? false }
        switch role {
        case .request:
            if transferEncoding != nil && contentLength != nil {
                throw .malformed("both Transfer-Encoding and Content-Length")
            }
            if let chunked {
                guard chunked else { throw .malformed("request Transfer-Encoding does not end in chunked") }
                head.framing = .chunked
            } else if let contentLength, contentLength > 0 {
                head.framing = .length(contentLength)
            }
        case .response(let kind):
            if head.status < 200 || head.status == 204 || head.status == 304 || kind == .head {
                head.framing = .none
            } else if kind == .connect && head.status < 300 {
                head.framing = .none
                head.keepAlive = false  // a tunnel the tee does not carry
            } else if let chunked {
                head.framing = chunked ? .chunked : .untilClose
            } else if let contentLength {
                head.framing = contentLength > 0 ? .length(contentLength) : .none
            } else {
                head.framing = .untilClose
            }
            if head.framing == .untilClose || head.status == 101 { head.keepAlive = false }
        }
        return head
    }

    private static let contentLengthName = Array("content-length".utf8)
    private static let transferEncodingName = Array("transfer-encoding".utf8)
    private static let connectionName = Array("connection".utf8)
    private static let expectName = Array("expect".utf8)

    static func firstLF(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let hit = memchr(base + from, Int32(lf), bytes.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// Checks the start of a request head that has not fully arrived: its method, and its request
    /// line once that is complete, throwing what `request(_:)` would. Returns whether the whole
    /// request line was there (then it needs no further check).
    static func checkRequestLine(of partialHead: ByteBuffer) throws(HTTP1FramingError) -> Bool {
        try partialHead.withUnsafeReadableBytes { bytes throws(HTTP1FramingError) in
            if let lf = firstLF(bytes, from: 0) {
                guard lf > 0 && bytes[lf - 1] == cr else { throw .malformed("bare LF line ending") }
                var head = HTTP1Head()
                try parseRequestLine(bytes, 0..<(lf - 1), into: &head)
                return true
            }
            var i = 0
            while i < bytes.count && tchar[Int(bytes[i])] { i += 1 }
            guard i <= maxMethodBytes, i == bytes.count || i > 0 && bytes[i] == sp else { throw .malformed("invalid request line") }
            return false
        }
    }

    private static func parseRequestLine(
        _ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout HTTP1Head
    ) throws(HTTP1FramingError) {
        var i = line.lowerBound
        while i < line.upperBound && tchar[Int(bytes[i])] { i += 1 }
        guard i > line.lowerBound, i - line.lowerBound <= maxMethodBytes, i < line.upperBound, bytes[i] == sp else {
            throw .malformed("invalid request line")
        }
        let method = line.lowerBound..<i
        i += 1
        let targetStart = i
        while i < line.upperBound && bytes[i] > sp && bytes[i] != 0x7F { i += 1 }
        guard i > targetStart, i < line.upperBound, bytes[i] == sp else { throw .malformed("invalid request target") }
        let target = targetStart..<i
        head.minorVersion = try parseVersion(bytes, (i + 1)..<line.upperBound)
        head.method = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[method]), as: UTF8.self)
        head.target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[target]), as: UTF8.self)
    }

    private static func parseStatusLine(
        _ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, into head: inout HTTP1Head
    ) throws(HTTP1FramingError) {
        let start = line.lowerBound
        guard line.count >= 12, bytes[start + 8] == sp else { throw .malformed("invalid status line") }
        head.minorVersion = try parseVersion(bytes, start..<(start + 8))
        var status = 0
        for i in (start + 9)..<(start + 12) {
            let digit = bytes[i] &- UInt8(ascii: "0")
            guard digit < 10 else { throw .malformed("invalid status code") }
            status = status * 10 + Int(digit)
        }
        guard status >= 100, line.count == 12 || bytes[start + 12] == sp else { throw .malformed("invalid status code") }
        for i in (start + 12)..<line.upperBound where bytes[i] < sp && bytes[i] != ht || bytes[i] == 0x7F {
            throw .malformed("control byte in reason phrase")
        }
        head.status = status
    }

    private static func parseVersion(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTP1FramingError) -> Int {
        guard range.count == 8, bytes[range.lowerBound..<(range.lowerBound + 7)].elementsEqual("HTTP/1.".utf8) else {
            throw .malformed("not HTTP/1.x")
        }
        switch bytes[range.lowerBound + 7] {
        case UInt8(ascii: "0"): return 0
        case UInt8(ascii: "1"): return 1
        default: throw .malformed("not HTTP/1.0 or HTTP/1.1")
        }
    }

    private static func parseField(
        _ bytes: UnsafeRawBufferPointer, _ line: Range<Int>
    ) throws(HTTP1FramingError) -> (Range<Int>, Range<Int>) {
        var i = line.lowerBound
        while i < line.upperBound && tchar[Int(bytes[i])] { i += 1 }
        guard i > line.lowerBound, i < line.upperBound, bytes[i] == colon else {
            throw .malformed(bytes[line.lowerBound] == sp || bytes[line.lowerBound] == ht
                ? "obsolete line folding" : "invalid header field")
        }
        let name = line.lowerBound..<i
        var start = i + 1
        var end = line.upperBound
        while start < end && (bytes[start] == sp || bytes[start] == ht) { start += 1 }
        while end > start && (bytes[end - 1] == sp || bytes[end - 1] == ht) { end -= 1 }
        for j in start..<end where bytes[j] < sp && bytes[j] != ht || bytes[j] == 0x7F {
            throw .malformed("control byte in a header value")
        }
        return (name, start..<end)
    }

    private static func parseContentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) throws(HTTP1FramingError) -> Int {
        // A list of identical values ("5, 5") is one length (RFC 9110 §8.6).
        var result: Int?
        var start = value.lowerBound
        while true {
            var end = start
            while end < value.upperBound && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var first = start, last = end
            while first < last && (bytes[first] == sp || bytes[first] == ht) { first += 1 }
            while last > first && (bytes[last - 1] == sp || bytes[last - 1] == ht) { last -= 1 }
            guard first < last, last - first <= 18 else { throw .malformed("invalid Content-Length") }
            var length = 0
            for i in first..<last {
                let digit = bytes[i] &- UInt8(ascii: "0")
                guard digit < 10 else { throw .malformed("invalid Content-Length") }
                length = length * 10 + Int(digit)
            }
            if let result, result != length { throw .malformed("differing Content-Length values") }
            result = length
            guard end < value.upperBound else { break }
            start = end + 1
        }
        guard let result else { throw .malformed("invalid Content-Length") }
        return result
    }

    static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: [UInt8]) -> Bool {
        equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[range]), lowercase)
    }

    /// Whether the ASCII `name` equals `lowercase` (already lower-case), ignoring case.
    public static func equalsLowercase(_ name: UnsafeRawBufferPointer, _ lowercase: [UInt8]) -> Bool {
        guard name.count == lowercase.count else { return false }
        for (b, l) in zip(name, lowercase) {
            let folded = b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b
            if folded != l { return false }
        }
        return true
    }

    private static func lowercased(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> [UInt8] {
        bytes[range].map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
    }

    /// Comma-separated list elements with surrounding whitespace removed.
    private static func tokens(_ list: [UInt8]) -> [ArraySlice<UInt8>] {
        list.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map { token in
            var token = token
            while let b = token.first, b == sp || b == ht { token = token.dropFirst() }
            while let b = token.last, b == sp || b == ht { token = token.dropLast() }
            return token
        }
    }
}
