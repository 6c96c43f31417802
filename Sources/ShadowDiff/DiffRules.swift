import ShadowCore

/// Which comparison a pair of answers gets.
public enum RulePreset: String, Sendable, Codable, CaseIterable {
    /// `openrtb` when the request is an OpenRTB bid request (a JSON object with an `imp` array),
    /// else `json`.
    case auto
    /// Decisions per impression, keyed by `impid`: bid or no-bid (HTTP 204, an empty body, an
    /// empty `seatbid` and `nbr` all mean no-bid), price within the price tolerance, `crid`,
    /// `adomain`, `dealid`, `cat`, `attr` (as sets), `seat` and currency. Everything else in a
    /// response, per-response noise such as `id`, `bidid`, bid `id`, `ext` and markup included, is ignored.
    case openrtb
    /// Every JSON field, by path; non-JSON bodies byte for byte.
    case json
    /// Status codes only.
    case status
}

/// Numbers at matching paths are equal when they differ by at most `max(absolute, relative × max(|a|, |b|))`.
public struct NumericTolerance: Sendable, Codable, Equatable {
    public var path: PathPattern
    public var absolute: Double
    public var relative: Double

    public init(path: PathPattern, absolute: Double = 0, relative: Double = 0) {
        self.path = path
        self.absolute = absolute
        self.relative = relative
    }

    func equal(_ a: Double, _ b: Double) -> Bool {
        abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))
    }
}

/// How arrays at matching paths are compared.
public struct ArrayRule: Sendable, Codable, Equatable {
    public enum Mode: Sendable, Codable, Equatable {
        /// Element by element, in order (the default for arrays no rule names).
        case ordered
        /// As multisets: order does not count, repeats do.
        case set
        /// Elements are objects matched by the value of this member, wherever they are.
        case keyed(by: String)
    }

    public var path: PathPattern
    public var mode: Mode

    public init(path: PathPattern, mode: Mode) {
        self.path = path
        self.mode = mode
    }
}

/// When a candidate difference counts despite noise (Diffy's thresholds and measures).
///
/// With a secondary baseline in the run, a field's candidate difference rate `r` (baseline vs
/// candidate) is compared with its noise rate `n` (baseline vs secondary): the difference is
/// reported only when `r > n`, `r - n > absolute` and `(r - n) / (r + n) > relative`. Without a
/// secondary every difference is reported.
public struct NoiseThresholds: Sendable, Codable, Equatable {
    /// The excess over noise relative to both rates, `(r - n) / (r + n)` (0.2 = 20%: `r` must be
    /// at least 1.5 × `n`).
    public var relative: Double = 0.20
    /// Excess over the noise rate, as a share of pairs (0.0003 = 0.03%).
    public var absolute: Double = 0.0003

    public init() {}

    /// Whether a difference rate `rate` stands out from the noise rate `noise`.
    public func significant(rate: Double, noise: Double) -> Bool {
        rate > noise && rate - noise > absolute && (rate - noise) / (rate + noise) > relative
    }
}

/// A latency gate: the candidate's percentile may exceed the baseline's by at most
/// `max(relative × baseline percentile, absoluteMs)`.
public struct LatencyThreshold: Sendable, Codable, Equatable {
    /// 0.5 for p50, 0.99 for p99.
    public var percentile: Double
    public var relative: Double
    public var absoluteMs: Double

    public init(percentile: Double, relative: Double, absoluteMs: Double) {
        self.percentile = percentile
        self.relative = relative
        self.absoluteMs = absoluteMs
    }

    /// `p50`, `p99`, `p99.9`.
    public var name: String {
        var digits = String(percentile * 100)
        if digits.hasSuffix(".0") { digits.removeLast(2) }
        return "p" + digits
    }
}

/// Everything that decides what a diff reports: comparison rules, noise thresholds and gates.
/// Built from defaults, an optional rules file (`RulesFile`) and flags, in that order.
public struct DiffRules: Sendable, Codable, Equatable {
    public var preset: RulePreset = .auto
    /// Fields never compared.
    public var ignore: [PathPattern] = []
    public var tolerances: [NumericTolerance] = []
    public var arrays: [ArrayRule] = []
    /// Response headers compared (case-insensitive names); none by default.
    public var headers: [String] = []
    /// Compare status classes (2xx, 4xx, ...) instead of exact codes.
    public var statusClasses = false
    /// OpenRTB prices within this relative difference are equal (0.0001 = 0.01%).
    public var priceTolerance = 0.0001
    public var noise = NoiseThresholds()
    /// Gate: the largest share of pairs (both sides answered) with a reported difference.
    public var maxMismatchRate = 0.001
    /// Gate: the largest excess of the candidate's error rate over the baseline's, judged at the
    /// lower bound of its 95% interval.
    public var maxErrorRate = 0.001
    /// Gates on latency percentiles, judged with confidence intervals.
    public var latency: [LatencyThreshold] = DiffRules.defaultLatency
    /// Bootstrap resamples for latency intervals, and their seed.
    public var bootstrapResamples = 1000
    public var seed: UInt64 = 1
    /// Example exchanges kept per mismatch group.
    public var examplesPerGroup = 5

    public static let defaultLatency = [
        LatencyThreshold(percentile: 0.5, relative: 0.05, absoluteMs: 0.5),
        LatencyThreshold(percentile: 0.99, relative: 0.05, absoluteMs: 1),
    ]

    public init() {}

    /// The tolerance for numbers at `path`, if any rule names it.
    func tolerance<C: RandomAccessCollection>(at path: C) -> NumericTolerance? where C.Element == String, C.Index == Int {
        tolerances.first { $0.path.matches(path) }
    }

    func arrayMode<C: RandomAccessCollection>(at path: C) -> ArrayRule.Mode where C.Element == String, C.Index == Int {
        arrays.first { $0.path.matches(path) }?.mode ?? .ordered
    }

    func ignores<C: RandomAccessCollection>(_ path: C) -> Bool where C.Element == String, C.Index == Int {
        ignore.contains { $0.matches(path) }
    }
}

extension RulePreset {
    /// The preset a request is compared under: `auto` becomes `openrtb` for an OpenRTB bid
    /// request (a JSON object with an `imp` array, content coding undone) and `json` otherwise.
    public func resolved(for request: RecordedRequest) -> RulePreset {
        guard self == .auto else { return self }
        let body = request.body
        let encoded = request.headers.first("Content-Encoding") != nil
        let first = body.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        guard encoded || first == UInt8(ascii: "{") else { return .json }
        let decoded = ContentDecoder.decode(body, headers: request.headers).0
        return DecisionExtractor.isBidRequest(JSONParser.parse(decoded)) ? .openrtb : .json
    }
}
