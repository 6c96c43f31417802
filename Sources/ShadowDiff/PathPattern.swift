import Foundation

/// A JSON pointer (RFC 6901) that may hold wildcards, naming the fields a rule applies to.
///
/// `*` as a whole segment matches any one segment (an object member or an array element);
/// `**` matches any number of segments, none included. `~0` and `~1` escape `~` and `/` as in
/// RFC 6901. Examples: `/ext/**`, `/seatbid/*/bid/*/id`, `/**/ts`.
public struct PathPattern: Sendable, Hashable, Codable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case any
        case anyDepth
    }

    /// The pattern as written.
    public let text: String
    let segments: [Segment]

    /// Parses `text`, or throws a message saying what is wrong with it.
    public init(_ text: String) throws(PathPatternError) {
        guard text.hasPrefix("/") else { throw PathPatternError(pattern: text, detail: "must start with '/'") }
        var segments: [Segment] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            switch raw {
            case "*": segments.append(.any)
            case "**": segments.append(.anyDepth)
            default: segments.append(.literal(try Self.unescape(raw, in: text)))
            }
        }
        self.text = text
        self.segments = segments
    }

    /// Whether `path` (unescaped segments, e.g. `["seatbid", "0", "bid"]`) is named by this pattern.
    public func matches<C: RandomAccessCollection>(_ path: C) -> Bool where C.Element == String, C.Index == Int {
        Self.match(segments[...], path[...])
    }

    public var description: String { text }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try PathPattern(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    private static func match<P: RandomAccessCollection, C: RandomAccessCollection>(_ pattern: P, _ path: C) -> Bool
    where P.Element == Segment, C.Element == String, P.SubSequence == P, C.SubSequence == C {
        guard let first = pattern.first else { return path.isEmpty }
        switch first {
        case .anyDepth:
            let rest = pattern.dropFirst()
            var tail = path
            while true {
                if match(rest, tail) { return true }
                guard !tail.isEmpty else { return false }
                tail = tail.dropFirst()
            }
        case .any:
            guard !path.isEmpty else { return false }
            return match(pattern.dropFirst(), path.dropFirst())
        case .literal(let name):
            guard path.first == name else { return false }
            return match(pattern.dropFirst(), path.dropFirst())
        }
    }

    private static func unescape(_ raw: Substring, in text: String) throws(PathPatternError) -> String {
        guard raw.contains("~") else { return String(raw) }
        var out = ""
        var iterator = raw.makeIterator()
        while let c = iterator.next() {
            guard c == "~" else {
                out.append(c)
                continue
            }
            switch iterator.next() {
            case "0": out.append("~")
            case "1": out.append("/")
            default: throw PathPatternError(pattern: text, detail: "'~' must be followed by 0 or 1 (RFC 6901)")
            }
        }
        return out
    }
}

/// A path pattern that does not parse.
public struct PathPatternError: Error, Sendable, CustomStringConvertible {
    public var pattern: String
    public var detail: String
    public var description: String { "invalid path '\(pattern)': \(detail)" }
}

/// JSON pointer text for unescaped segments: `["a/b", "0"]` is `/a~1b/0`.
func jsonPointer<C: Collection>(_ segments: C) -> String where C.Element == String {
    guard !segments.isEmpty else { return "/" }
    var out = ""
    for segment in segments {
        out += "/"
        if segment.contains("~") || segment.contains("/") {
            out += segment.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        } else {
            out += segment
        }
    }
    return out
}
