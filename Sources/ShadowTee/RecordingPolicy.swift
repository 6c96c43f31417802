import NIOCore
import ShadowCore
import ShadowHTTP1

/// Which forwarded requests are recorded, and what is hidden in the record.
///
/// Pure and deterministic: the same request (or connection) always gets the same decision, in
/// every run and on every host, so that a sample is stable (no seed, no clock).
public struct RecordingPolicy: Sendable {
    /// How `samplePercent` picks requests.
    public enum SampleKey: Sendable, Equatable {
        /// Every request of a connection shares the connection's decision.
        case connection
        /// Requests with the same value of this header share a decision; without the header, the
        /// connection decides.
        case header(String)
    }

    /// Percentage of requests recorded, 0 < p ≤ 100.
    public var samplePercent: Double = 100
    public var sampleKey: SampleKey = .connection
    /// Which methods and paths are recorded.
    public var filter = RequestFilter()
    /// Lower-case names of headers whose values are replaced by `redactedValue` in the record.
    public var redactedHeaders: Set<String> = [] {
        didSet { redactedNames = redactedHeaders.map { Array($0.lowercased().utf8) } }
    }
    public static let redactedValue = "[redacted]"
    private var redactedNames: [[UInt8]] = []
    private static let redactedValueBytes = Array(redactedValue.utf8)

    public init() {}

    /// Why a request is not recorded, or nil when it is.
    /// `header` looks a request header up by name, case-insensitively.
    public func exclusion(method: String, target: String, header: (String) -> String?, connectionKey: String) -> DropReason? {
        guard filter.admits(method: method, target: target) else { return .filteredOut }
        guard samplePercent < 100 else { return nil }
        var key = connectionKey
        if case .header(let name) = sampleKey, let value = header(name) { key = value }
        return samples(key: key) ? nil : .notSampled
    }

    /// Whether requests whose sample key is `key` fall in the sample.
    public func samples(key: String) -> Bool {
        StableSample.includes(key, percent: samplePercent)
    }

    /// Whether any header is redacted.
    public var redactsHeaders: Bool { !redactedNames.isEmpty }

    /// `head` with the redacted headers' values replaced, as a head again (its start line, then
    /// the fields in the store's text form), with how many were redacted; `head` itself when none
    /// was; nil when it does not parse.
    func redacted(_ head: ByteBuffer, isRequest: Bool) -> (head: ByteBuffer, redacted: Int)? {
        guard let stored = storedFields(of: head, isRequest: isRequest) else { return nil }
        guard stored.redacted > 0 else { return (head, 0) }
        let startLine = head.readableBytesView.prefix { $0 != UInt8(ascii: "\n") }
        var rebuilt = ByteBuffer()
        rebuilt.writeBytes(startLine.last == UInt8(ascii: "\r") ? startLine.dropLast() : startLine)
        rebuilt.writeStaticString("\r\n")
        if !stored.text.isEmpty {
            rebuilt.writeBytes(stored.text)
            rebuilt.writeStaticString("\r\n")
        }
        rebuilt.writeStaticString("\r\n")
        return (rebuilt, stored.redacted)
    }

    /// A raw head's start line, and its fields in the store's text form with redacted values,
    /// with how many were redacted; nil when it does not parse.
    public func storedFields(of head: ByteBuffer, isRequest: Bool) -> (head: HTTP1Head, text: [UInt8], redacted: Int)? {
        HTTP1Head.storedFieldText(of: head, isRequest: isRequest, redacting: redactedNames, replacement: Self.redactedValueBytes)
    }
}
