/// The outcome of a diff: what was compared, the mismatch groups, latency per side and the gates.
/// Encoded as the JSON report (`schema` names its version; docs/REPORT.md documents it).
public struct DiffSummary: Sendable, Codable {
    public static let schemaName = "shadowdiff.diff/1"

    public var schema = DiffSummary.schemaName
    public var pairs: Int64 = 0
    public var matched: Int64 = 0
    public var mismatched: Int64 = 0
    /// Exchanges of the run without a result for both baseline and candidate.
    public var incomplete: Int64 = 0
    public var mismatchRate: Double { pairs == 0 ? 0 : Double(mismatched) / Double(pairs) }
    /// How many pairs each rule set was applied to.
    public var rulesApplied: [String: Int64] = [:]
    /// Mismatches per kind: count of mismatches and of distinct exchanges, with example exchange ids.
    public var kinds: [KindCount] = []
    /// Mismatches grouped by endpoint, kind and field.
    public var groups: [Group] = []
    /// Failed requests per side and error kind.
    public var errors: [String: [String: Int64]] = [:]
    public var latency: [String: LatencySummary] = [:]
    public var gates: [Gate] = []
    public var passed: Bool { gates.allSatisfy(\.passed) }

    public struct KindCount: Sendable, Codable {
        public var kind: MismatchKind
        public var count: Int64
        public var exchanges: Int64
        public var examples: [Int64]
    }

    public struct Group: Sendable, Codable {
        public var endpoint: String
        public var kind: MismatchKind
        public var field: String
        public var count: Int64
        public var exchanges: Int64
        /// Share of the endpoint's compared pairs with this mismatch.
        public var rate: Double
        public var examples: [Example]
    }

    public struct Example: Sendable, Codable {
        public var exchange: Int64
        public var impression: String?
        public var baseline: String
        public var candidate: String
    }

    public struct Gate: Sendable, Codable {
        public var name: String
        public var limit: String
        public var value: String
        public var passed: Bool
    }

    enum CodingKeys: String, CodingKey {
        case schema, pairs, matched, mismatched, incomplete, mismatchRate, rulesApplied, kinds, groups, errors, latency,
             gates, passed
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        pairs = try c.decode(Int64.self, forKey: .pairs)
        matched = try c.decode(Int64.self, forKey: .matched)
        mismatched = try c.decode(Int64.self, forKey: .mismatched)
        incomplete = try c.decode(Int64.self, forKey: .incomplete)
        rulesApplied = try c.decode([String: Int64].self, forKey: .rulesApplied)
        kinds = try c.decode([KindCount].self, forKey: .kinds)
        groups = try c.decode([Group].self, forKey: .groups)
        errors = try c.decode([String: [String: Int64]].self, forKey: .errors)
        latency = try c.decode([String: LatencySummary].self, forKey: .latency)
        gates = try c.decode([Gate].self, forKey: .gates)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(pairs, forKey: .pairs)
        try c.encode(matched, forKey: .matched)
        try c.encode(mismatched, forKey: .mismatched)
        try c.encode(incomplete, forKey: .incomplete)
        try c.encode(mismatchRate, forKey: .mismatchRate)
        try c.encode(rulesApplied, forKey: .rulesApplied)
        try c.encode(kinds, forKey: .kinds)
        try c.encode(groups, forKey: .groups)
        try c.encode(errors, forKey: .errors)
        try c.encode(latency, forKey: .latency)
        try c.encode(gates, forKey: .gates)
        try c.encode(passed, forKey: .passed)
    }
}
