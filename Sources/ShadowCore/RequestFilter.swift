/// Which requests a method and path filter admits: the tee's recording policy and the replay's
/// selection share it.
public struct RequestFilter: Sendable, Codable, Equatable {
    /// Upper-case methods admitted; empty admits every method.
    public var methods: Set<String>
    /// When non-empty, only paths starting with one of these are admitted.
    public var pathPrefixes: [String]
    /// Paths starting with one of these are never admitted.
    public var excludedPathPrefixes: [String]

    public init(methods: Set<String> = [], pathPrefixes: [String] = [], excludedPathPrefixes: [String] = []) {
        self.methods = methods
        self.pathPrefixes = pathPrefixes
        self.excludedPathPrefixes = excludedPathPrefixes
    }

    public func admits(method: String, path: Substring) -> Bool {
        admits(method: method) && admits(path: path)
    }

    /// As `admits(method:path:)`, working the path out of `target` only when a path filter needs it.
    public func admits(method: String, target: String) -> Bool {
        guard admits(method: method) else { return false }
        return pathPrefixes.isEmpty && excludedPathPrefixes.isEmpty || admits(path: RecordedRequest.path(of: target))
    }

    private func admits(method: String) -> Bool {
        methods.isEmpty || methods.contains(method) || methods.contains(method.uppercased())
    }

    private func admits(path: Substring) -> Bool {
        if !pathPrefixes.isEmpty && !pathPrefixes.contains(where: { path.hasPrefix($0) }) { return false }
        return !excludedPathPrefixes.contains(where: { path.hasPrefix($0) })
    }
}

/// A sample that is the same in every run and on every host: no seed, no clock.
public enum StableSample {
    /// A bucket in 0..<10_000: FNV-1a over the key's UTF-8 bytes, finished with SplitMix64.
    public static func bucket(of key: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        var mix = SplitMix64(seed: hash)
        return Int(mix.next() % 10_000)
    }

    /// Whether `key` falls in a sample of `percent` (0 < p ≤ 100).
    public static func includes(_ key: String, percent: Double) -> Bool {
        percent >= 100 || bucket(of: key) < Int(percent * 100)
    }
}
