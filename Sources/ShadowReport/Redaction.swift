import ShadowCore
import ShadowDiff

/// What every report hides unless asked to show it: the values of secret headers and of JSON
/// members and query parameters with secret names. Names match case-insensitively.
public struct Redaction: Sendable, Codable, Equatable {
    public static let defaultHeaders = ["authorization", "proxy-authorization", "cookie", "set-cookie"]
    public static let placeholder = "[redacted]"

    /// Lowercased header names whose values are hidden.
    public private(set) var headers: Set<String>
    /// Lowercased JSON member and query parameter names whose values are hidden.
    public private(set) var fields: Set<String>
    /// False with `--show-secrets`: nothing is hidden.
    public var enabled: Bool

    /// The defaults plus `headers` and `fields`.
    public init(headers: [String] = [], fields: [String] = [], enabled: Bool = true) {
        self.headers = Set((Self.defaultHeaders + headers).map { $0.lowercased() })
        self.fields = Set(fields.map { $0.lowercased() })
        self.enabled = enabled
    }

    /// Hides nothing.
    public static let none = Redaction(enabled: false)

    public func hides(header name: String) -> Bool { enabled && headers.contains(name.lowercased()) }

    public func hides(field name: String) -> Bool { enabled && fields.contains(name.lowercased()) }

    public func apply(_ headers: [HeaderField]) -> [HeaderField] {
        headers.map { hides(header: $0.name) ? HeaderField($0.name, Self.placeholder) : $0 }
    }

    /// The document with the value of every member whose name is secret replaced by the placeholder.
    public func apply(_ value: JSONValue) -> JSONValue {
        guard enabled, !fields.isEmpty else { return value }
        switch value {
        case .object(let members):
            return .object(members.map { member in
                (member.key, hides(field: member.key) ? .string(Self.placeholder) : apply(member.value))
            })
        case .array(let items):
            return .array(items.map(apply))
        default:
            return value
        }
    }

    /// A request target with the values of secret query parameters replaced.
    public func apply(target: String) -> String {
        guard enabled, !fields.isEmpty, let question = target.firstIndex(of: "?") else { return target }
        let query = target[target.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { item in
            guard let eq = item.firstIndex(of: "="), hides(field: String(item[..<eq]).removingPercentEncodingLossy) else {
                return String(item)
            }
            return item[..<eq] + "=" + Self.placeholder
        }
        return target[...question] + query.joined(separator: "&")
    }

    /// A value reported at JSON pointer `path`: hidden when any segment names a secret field.
    public func apply(value: String, at path: String?) -> String {
        guard enabled, !fields.isEmpty, let path else { return value }
        return path.split(separator: "/").contains { hides(field: String($0)) } ? Self.placeholder : value
    }
}

extension String {
    /// Percent-decoding that keeps malformed escapes as they are.
    fileprivate var removingPercentEncodingLossy: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
