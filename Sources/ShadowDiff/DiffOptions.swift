/// How bodies are compared.
public enum RulePreset: String, Sendable, Codable, CaseIterable {
    /// `openrtb` when the request is an OpenRTB bid request, else `json` when both bodies are JSON,
    /// else bytes.
    case auto
    /// Decisions per impression: bid/no-bid, price (with tolerance), crid, adomain, dealid, seat, currency.
    case openrtb
    /// Every JSON field, by path.
    case json
    /// Status codes only.
    case status
}

/// Rules and gates of a diff. Defaults are documented in the README and `shadowdiff diff --help`.
public struct DiffOptions: Sendable, Codable {
    public var rules: RulePreset = .auto
    /// Prices within this relative difference are equal (0.0001 = 0.01%).
    public var priceTolerance: Double = 0.0001
    /// Gate: fail when more than this fraction of compared pairs mismatch.
    public var maxMismatchRate: Double = 0.001
    /// Gate: fail when candidate p99 exceeds baseline p99 by more than this fraction...
    public var maxP99Regression: Double = 0.10
    /// ...and by more than this many milliseconds.
    public var minP99RegressionMs: Double = 1
    /// Example exchange ids kept per mismatch group.
    public var examplesPerGroup: Int = 5

    public init() {}
}

/// What kind of difference a mismatch is.
public enum MismatchKind: String, Sendable, Codable, CaseIterable {
    /// Different HTTP status.
    case status
    /// One side failed (refused, reset, timeout, ...) and the other did not, or they failed differently.
    case error
    /// Bid on one side, no-bid on the other.
    case decision
    case price
    case crid
    case adomain
    case dealid
    case seat
    case currency
    /// A JSON field differs (`json` rules).
    case field
    /// Non-JSON bodies differ byte-wise.
    case body
}

/// One difference between baseline and candidate for one exchange.
public struct Mismatch: Sendable, Hashable {
    public var kind: MismatchKind
    /// Where: `status`, `imp[<id>].price`-style for OpenRTB (grouped as `bid.price`), a JSON pointer template for JSON.
    public var field: String
    /// The impression id, for OpenRTB decisions.
    public var impression: String?
    public var baseline: String
    public var candidate: String
}
