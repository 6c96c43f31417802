import ShadowCore

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
    public var redactedHeaders: Set<String> = []
    public static let redactedValue = "[redacted]"

    public init() {}

    /// Why a request is not recorded, or nil when it is.
    /// `header` looks a request header up by name, case-insensitively.
    public func exclusion(method: String, target: String, header: (String) -> String?, connectionKey: String) -> DropReason? {
        guard filter.admits(method: method, path: RecordedRequest.path(of: target)) else { return .filteredOut }
        guard samplePercent < 100 else { return nil }
        var key = connectionKey
        if case .header(let name) = sampleKey, let value = header(name) { key = value }
        return samples(key: key) ? nil : .notSampled
    }

    /// Whether requests whose sample key is `key` fall in the sample.
    public func samples(key: String) -> Bool {
        StableSample.includes(key, percent: samplePercent)
    }

    /// `headers` with redacted values, and how many were redacted.
    public func redact(_ headers: [HeaderField]) -> ([HeaderField], Int) {
        guard !redactedHeaders.isEmpty else { return (headers, 0) }
        var redacted = 0
        let result = headers.map { field in
            guard redactedHeaders.contains(field.name.lowercased()) else { return field }
            redacted += 1
            return HeaderField(field.name, Self.redactedValue)
        }
        return (result, redacted)
    }
}
