import ShadowCore

/// One side's answer to a request, decoded once for every comparison it takes part in.
public struct PreparedAnswer: Sendable {
    /// Nil when the request failed; then `failure` names why.
    public var status: Int?
    public var failure: String?
    public var headers: [HeaderField]
    /// The body with its content codings undone.
    public var body: [UInt8]
    /// The parsed body, for the `json` preset when the body is JSON.
    public var json: JSONValue?
    /// Why a body that was to be read is not usable: not JSON (`not JSON (error at byte 3)`) or
    /// its content coding cannot be undone.
    public var unparsable: String?
    /// The OpenRTB decisions, for the `openrtb` preset.
    public var bids: [String: Bid] = [:]

    /// Prepares `response` (or the failure `failure`) for comparison under `preset`: a non-empty
    /// body is parsed into `json` for the `json` preset, and read into `bids` for `openrtb`
    /// when the status is 200 (other statuses carry no decision).
    public init(response: RecordedResponse?, failure: String?, preset: RulePreset) {
        status = response?.status
        self.failure = response == nil ? (failure ?? "no response") : nil
        headers = response?.headers ?? []
        body = []
        guard let response else { return }
        let (decoded, outcome) = ContentDecoder.decode(response.body, headers: response.headers)
        body = decoded
        let read = preset == .json || (preset == .openrtb && response.status == 200)
        guard read, !decoded.isEmpty else { return }
        if case .undecodable(let why) = outcome {
            unparsable = why
            return
        }
        do {
            if preset == .json { json = try JSONParser.parseOrThrow(decoded) } else { bids = try JSONParser.openRTBBids(decoded) }
        } catch {
            unparsable = error.description
        }
    }
}

/// Compares two answers to one request under `DiffRules` and a resolved preset (never `.auto`).
public enum AnswerComparer {
    /// At most this many mismatches are reported per pair; more set `truncated`.
    public static let limit = 64

    public static func compare(_ a: PreparedAnswer, _ b: PreparedAnswer, preset: RulePreset, rules: DiffRules)
        -> (mismatches: [Mismatch], truncated: Bool)
    {
        guard let sa = a.status, let sb = b.status else {
            let l = a.failure ?? "ok", r = b.failure ?? "ok"
            return (l == r ? [] : [Mismatch(kind: .error, field: "error", left: l, right: r)], false)
        }
        let bidStatuses = preset == .openrtb && (sa == 200 || sa == 204) && (sb == 200 || sb == 204)
        if !bidStatuses && (rules.statusClasses ? sa / 100 != sb / 100 : sa != sb) {
            return ([Mismatch(kind: .status, field: "status", left: String(sa), right: String(sb))], false)
        }
        var out: [Mismatch] = []
        for name in rules.headers {
            let l = a.headers.first(name), r = b.headers.first(name)
            if l != r {
                out.append(Mismatch(kind: .header, field: "header:" + name.lowercased(), left: l ?? "(absent)", right: r ?? "(absent)"))
            }
        }
        switch preset {
        case .status, .auto:
            return (out, false)
        case .openrtb:
            if let unusable = unusableBodies(a, b) { return (out + unusable, false) }
            out += DecisionExtractor.compare(a.bids, b.bids, rules: rules)
            return (out, false)
        case .json:
            switch (a.json, b.json) {
            case (nil, nil):
                if a.body != b.body {
                    out.append(Mismatch(kind: .body, field: "body", left: "\(a.body.count) bytes", right: "\(b.body.count) bytes"))
                }
                return (out, false)
            case (nil, _?) where a.unparsable != nil, (_?, nil) where b.unparsable != nil:
                out.append(Mismatch(kind: .unparsable, field: "body", left: a.unparsable ?? "JSON", right: b.unparsable ?? "JSON"))
                return (out, false)
            default:
                var comparer = JSONComparer(rules: rules, limit: limit - out.count)
                comparer.compare(a.json, b.json)
                return (out + comparer.mismatches, comparer.truncated)
            }
        }
    }

    /// For OpenRTB, where a 200 must carry JSON: a mismatch when a side's body is not JSON (or
    /// both are not and their bytes differ); nil when both are usable, [] when both are unusable alike.
    private static func unusableBodies(_ a: PreparedAnswer, _ b: PreparedAnswer) -> [Mismatch]? {
        let ua = a.status == 200 ? a.unparsable : nil, ub = b.status == 200 ? b.unparsable : nil
        guard ua != nil || ub != nil else { return nil }
        if ua != nil, ub != nil, a.body == b.body { return [] }
        return [Mismatch(kind: .unparsable, field: "body", left: ua ?? "JSON", right: ub ?? "JSON")]
    }
}
