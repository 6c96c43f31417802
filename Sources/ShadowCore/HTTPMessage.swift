/// One header line as it was seen on the wire: original case, original order.
public struct HeaderField: Sendable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == HeaderField {
    /// The first value of the header `name`, compared case-insensitively (ASCII).
    public func first(_ name: String) -> String? {
        func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
        let count = name.utf8.count
        return first { $0.name.utf8.count == count && $0.name.utf8.elementsEqual(name.utf8) { lower($0) == lower($1) } }?.value
    }

    /// Headers in the compact text form the store keeps: `Name: value` lines joined by CRLF.
    public var wireText: String {
        String(decoding: wireUTF8, as: UTF8.self)
    }

    /// The UTF-8 bytes of `wireText`.
    public var wireUTF8: [UInt8] {
        var text: [UInt8] = []
        for (i, field) in enumerated() {
            if i > 0 { text.append(contentsOf: [13, 10]) }
            text.append(contentsOf: field.name.utf8)
            text.append(contentsOf: [58, 32])
            text.append(contentsOf: field.value.utf8)
        }
        return text
    }

    /// Parses `wireText` back; lines without a colon are skipped.
    public init(wireText: String) {
        var text = wireText
        self = text.withUTF8 { Self(wireUTF8: $0) }
    }

    /// Parses the UTF-8 bytes of a `wireText` (invalid UTF-8 repaired); lines without a colon are skipped.
    public init(wireUTF8 utf8: UnsafeBufferPointer<UInt8>) {
        var fields: [HeaderField] = []
        var lineStart = 0
        func take(_ end: Int) {
            let line = UnsafeBufferPointer(rebasing: utf8[lineStart..<end])
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
            var valueStart = colon + 1
            while valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
            fields.append(HeaderField(
                String(decoding: UnsafeBufferPointer(rebasing: line[..<colon]), as: UTF8.self),
                String(decoding: UnsafeBufferPointer(rebasing: line[valueStart...]), as: UTF8.self)))
        }
        var i = 0
        while i < utf8.count {
            if utf8[i] == 0x0D, i + 1 < utf8.count, utf8[i + 1] == 0x0A {
                if i > lineStart { take(i) }
                i += 2
                lineStart = i
            } else {
                i += 1
            }
        }
        if utf8.count > lineStart { take(utf8.count) }
        self = fields
    }
}

/// An HTTP request as recorded: enough to send it again byte-for-byte in meaning.
public struct RecordedRequest: Sendable, Hashable {
    public var method: String
    /// The request target as sent (origin form, e.g. `/openrtb2/auction?x=1`).
    public var target: String
    public var version: String
    public var headers: [HeaderField]
    public var body: [UInt8]

    public init(method: String, target: String, version: String = "HTTP/1.1", headers: [HeaderField], body: [UInt8]) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The path without the query string.
    public var path: Substring { Self.path(of: target) }

    /// The path of a request target, without its query string.
    public static func path(of target: String) -> Substring {
        target[..<(target.firstIndex(of: "?") ?? target.endIndex)]
    }
}

/// An HTTP response as recorded.
public struct RecordedResponse: Sendable, Hashable {
    public var status: Int
    public var headers: [HeaderField]
    public var body: [UInt8]

    public init(status: Int, headers: [HeaderField], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
