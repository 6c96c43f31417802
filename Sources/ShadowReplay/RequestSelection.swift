import ShadowCore

/// Which stored exchanges a run replays. Pure and stable: an exchange's sampling decision depends
/// on its id only, so runs with the same `samplePercent` replay the same exchanges.
public struct RequestSelection: Sendable, Codable, Equatable {
    public var filter: RequestFilter
    /// Percentage of exchanges replayed, 0 < p ≤ 100.
    public var samplePercent: Double

    public init(filter: RequestFilter = RequestFilter(), samplePercent: Double = 100) {
        self.filter = filter
        self.samplePercent = samplePercent
    }

    /// Why the exchange is skipped (`filtered_out`, `not_sampled`), or nil when it is replayed.
    public func exclusion(id: Int64, method: String, path: Substring) -> DropReason? {
        guard filter.admits(method: method, path: path) else { return .filteredOut }
        return samplePercent >= 100 || StableSample.includes(String(id), percent: samplePercent) ? nil : .notSampled
    }
}

/// How a recorded request is changed before it is sent.
///
/// By default `Host` names the target; `host` sends that value instead and `keepHost` the recorded
/// one. `setHeaders` replace (or add) headers by name, `deleteHeaders` remove them, and the first
/// `pathRewrites` entry whose `from` prefixes the path replaces that prefix with `to`.
public struct RequestRewrite: Sendable, Codable, Equatable {
    public struct PathRewrite: Sendable, Codable, Equatable {
        public var from: String
        public var to: String
        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    public var host: String?
    public var keepHost = false
    public var setHeaders: [HeaderField] = []
    public var deleteHeaders: [String] = []
    public var pathRewrites: [PathRewrite] = []

    public init(
        host: String? = nil, keepHost: Bool = false, setHeaders: [HeaderField] = [], deleteHeaders: [String] = [],
        pathRewrites: [PathRewrite] = []
    ) {
        self.host = host
        self.keepHost = keepHost
        self.setHeaders = setHeaders
        self.deleteHeaders = deleteHeaders
        self.pathRewrites = pathRewrites
    }

    /// The request target after the path rewrites.
    public func target(_ target: String) -> String {
        guard let rule = pathRewrites.first(where: { target.hasPrefix($0.from) }) else { return target }
        return rule.to + target.dropFirst(rule.from.count)
    }
}
