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
    /// The first value of the header `name`, compared case-insensitively.
    public func first(_ name: String) -> String? {
        let wanted = name.lowercased()
        return first { $0.name.lowercased() == wanted }?.value
    }

    /// Headers in the compact text form the store keeps: `Name: value` lines joined by CRLF.
    public var wireText: String {
        map { "\($0.name): \($0.value)" }.joined(separator: "\r\n")
    }

    /// Parses `wireText` back; lines without a colon are skipped.
    public init(wireText: String) {
        self = wireText.split(separator: "\r\n", omittingEmptySubsequences: true).compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            return HeaderField(String(line[..<colon]), String(value))
        }
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
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
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
