/// The outcome of a diff: what was compared, what differs beyond noise, how faithful replay
/// was, latency verdicts and gates. Encoded as the JSON report's `diff`; `schema` names its
/// version and docs/REPORT.md documents every field.
public struct DiffSummary: Sendable, Codable {
    public static let schemaName = "shadowdiff.diff/3"

    public var schema = DiffSummary.schemaName
    /// The rules, thresholds and gates this diff applied.
    public var rules: DiffRules
    /// Baseline–candidate pairs compared (one per exchange and pass), both sides having answered.
    public var pairs: Int64 = 0
    /// Pairs where baseline or candidate failed: not compared for decisions, judged by `errorVerdict`.
    public var errorPairs: Int64 = 0
    /// Pairs without a reported (significant) mismatch.
    public var matched: Int64 = 0
    /// Pairs with at least one reported mismatch.
    public var mismatched: Int64 = 0
    public var mismatchRate: Double = 0
    /// Replayed exchanges without a result for both baseline and candidate; not compared.
    public var incomplete: Int64 = 0
    /// Pairs per preset actually applied (`auto` resolved).
    public var rulesApplied: [String: Int64] = [:]
    /// Pairs that also had a secondary baseline answer; 0 means noise was not measured.
    public var noisePairs: Int64 = 0
    /// Reported mismatches per kind: mismatch count, pairs with at least one, example exchanges.
    public var kinds: [KindCount] = []
    /// Candidate differences beyond noise, by endpoint, kind and field, most frequent first.
    public var groups: [Group] = []
    /// Candidate differences explained by noise (not reported as mismatches).
    public var noisyGroups: [Group] = []
    /// Baseline vs secondary differences: the noise itself, per field.
    public var noise: [Group] = []
    /// Production's captured answers vs the baseline replay, where the capture holds them.
    public var production: ProductionComparison?
    /// Failed requests per side and error kind.
    public var errors: [String: [String: Int64]] = [:]
    /// The candidate's failures against the baseline's, per kind, with intervals: the error gate.
    public var errorVerdict: ErrorSection
    /// Bodies that should be JSON and are not, per side (`production` included).
    public var unparsable: [String: Unparsable] = [:]
    public var truncated = Truncation()
    public var latency = LatencySection()
    public var gates: [Gate] = []
    public var passed = true

    public init(rules: DiffRules) {
        self.rules = rules
        errorVerdict = ErrorSection(maxExcessRate: rules.maxErrorRate)
    }

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
        /// Mismatches (a pair may hold several, e.g. one per impression).
        public var count: Int64
        /// Pairs with this mismatch.
        public var exchanges: Int64
        /// Share of the endpoint's pairs with this mismatch.
        public var rate: Double
        /// Share of the endpoint's baseline–secondary pairs that differ here; nil without a secondary.
        public var noiseRate: Double?
        public var noiseExchanges: Int64?
        public var examples: [Example]
    }

    public struct Example: Sendable, Codable, Equatable {
        public var exchange: Int64
        /// The pass of a looped replay (0 otherwise).
        public var pass: Int
        public var impression: String?
        /// The concrete JSON pointer, when it differs from the group's field.
        public var path: String?
        /// Each side's value by side name (`baseline`, `candidate`, `secondary`, `production`).
        public var values: [String: String]
    }

    public struct ProductionComparison: Sendable, Codable {
        public var pairs: Int64
        public var mismatched: Int64
        public var mismatchRate: Double
        public var groups: [Group]
        public var noisyGroups: [Group]
    }

    public struct Unparsable: Sendable, Codable {
        public var count: Int64
        public var firstReason: String
        public var examples: [Int64]
    }

    /// What was counted but could not be itemised.
    public struct Truncation: Sendable, Codable {
        /// Pairs with more than `AnswerComparer.limit` differences (the rest are not listed).
        public var pairsWithCappedDifferences: Int64 = 0
        /// Mismatches past `DiffAccumulator.maxGroups` distinct groups.
        public var ungroupedMismatches: Int64 = 0
        /// Mismatched pairs whose combination of groups was not tracked; counted as mismatched.
        public var untrackedMismatchedPairs: Int64 = 0
    }

    public struct Gate: Sendable, Codable {
        public var name: String
        public var limit: String
        public var value: String
        public var passed: Bool
    }
}
