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
    /// Upper-case methods recorded; empty records every method.
    public var methods: Set<String> = []
    /// When non-empty, only paths starting with one of these are recorded.
    public var pathPrefixes: [String] = []
    /// Paths starting with one of these are never recorded.
    public var excludedPathPrefixes: [String] = []
    /// Lower-case names of headers whose values are replaced by `redactedValue` in the record.
    public var redactedHeaders: Set<String> = []
    public static let redactedValue = "[redacted]"

    public init() {}

    /// Why a request is not recorded, or nil when it is.
    /// `header` looks a request header up by name, case-insensitively.
    public func exclusion(method: String, target: String, header: (String) -> String?, connectionKey: String) -> DropReason? {
        if !methods.isEmpty && !methods.contains(method.uppercased()) { return .filteredOut }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if !pathPrefixes.isEmpty && !pathPrefixes.contains(where: { path.hasPrefix($0) }) { return .filteredOut }
        if excludedPathPrefixes.contains(where: { path.hasPrefix($0) }) { return .filteredOut }
        guard samplePercent < 100 else { return nil }
        var key = connectionKey
        if case .header(let name) = sampleKey, let value = header(name) { key = value }
        return samples(key: key) ? nil : .notSampled
    }

    /// Whether requests whose sample key is `key` fall in the sample.
    public func samples(key: String) -> Bool {
        Self.bucket(of: key) < Int(samplePercent * 100)
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

    /// A stable bucket in 0..<10_000: FNV-1a over the key's UTF-8 bytes, finished with SplitMix64.
    static func bucket(of key: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        var mix = SplitMix64(seed: hash)
        return Int(mix.next() % 10_000)
    }
}
