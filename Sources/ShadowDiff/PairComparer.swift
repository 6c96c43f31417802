import ShadowCore

/// Compares what baseline and candidate answered to one request.
public enum PairComparer {
    /// The rules actually applied (never `.auto`) and the mismatches found.
    public static func compare(
        request: RecordedRequest, baseline: SideResult, candidate: SideResult, options: DiffOptions
    ) -> (rules: RulePreset, mismatches: [Mismatch]) {
        if baseline.error != nil || candidate.error != nil {
            let a = baseline.error?.rawValue ?? "ok", b = candidate.error?.rawValue ?? "ok"
            let rules = options.rules == .auto ? .status : options.rules
            return (rules, a == b ? [] : [Mismatch(kind: .error, field: "error", baseline: a, candidate: b)])
        }
        guard var a = baseline.response, var b = candidate.response else { return (.status, []) }
        a.body = ContentDecoder.decode(a.body, headers: a.headers).0
        b.body = ContentDecoder.decode(b.body, headers: b.headers).0
        var mismatches: [Mismatch] = []
        let bothBidStatuses = [200, 204].contains(a.status) && [200, 204].contains(b.status)
        let requestJSON = options.rules == .status
            ? nil : JSONParser.parse(ContentDecoder.decode(request.body, headers: request.headers).0)
        let impressions = DecisionExtractor.impressionIDs(request: requestJSON)
        var rules = options.rules
        if rules == .auto {
            if impressions != nil && bothBidStatuses { rules = .openrtb } else { rules = .json }
        }
        if a.status != b.status && !(rules == .openrtb && bothBidStatuses) {
            mismatches.append(Mismatch(kind: .status, field: "status", baseline: String(a.status), candidate: String(b.status)))
            return (rules, mismatches)
        }
        switch rules {
        case .status, .auto:
            break
        case .openrtb:
            mismatches += decisions(impressions ?? [], a, b, options: options)
        case .json:
            mismatches += bodies(a.body, b.body)
        }
        return (rules, mismatches)
    }

    private static func decisions(_ impressions: [String], _ a: RecordedResponse, _ b: RecordedResponse, options: DiffOptions)
        -> [Mismatch]
    {
        let da = DecisionExtractor.decisions(impressionIDs: impressions, status: a.status, body: JSONParser.parse(a.body))
        let db = DecisionExtractor.decisions(impressionIDs: impressions, status: b.status, body: JSONParser.parse(b.body))
        var out: [Mismatch] = []
        for imp in Set(da.keys).union(db.keys).sorted() {
            let ba = da[imp]?.bid, bb = db[imp]?.bid
            switch (ba, bb) {
            case (nil, nil):
                continue
            case let (x?, y?):
                func check(_ kind: MismatchKind, _ l: String?, _ r: String?) {
                    if l != r { out.append(Mismatch(kind: kind, field: "bid.\(kind.rawValue)", impression: imp, baseline: l ?? "-", candidate: r ?? "-")) }
                }
                let scale = max(abs(x.price), abs(y.price))
                if abs(x.price - y.price) > scale * options.priceTolerance {
                    out.append(Mismatch(kind: .price, field: "bid.price", impression: imp, baseline: format(x.price), candidate: format(y.price)))
                }
                check(.crid, x.crid, y.crid)
                check(.adomain, x.adomain.joined(separator: ","), y.adomain.joined(separator: ","))
                check(.dealid, x.dealid, y.dealid)
                check(.seat, x.seat, y.seat)
                check(.currency, x.currency, y.currency)
            case let (x, y):
                out.append(Mismatch(
                    kind: .decision, field: "bid", impression: imp,
                    baseline: x.map { "bid \(format($0.price))" } ?? "no-bid",
                    candidate: y.map { "bid \(format($0.price))" } ?? "no-bid"))
            }
        }
        return out
    }

    private static func bodies(_ a: [UInt8], _ b: [UInt8]) -> [Mismatch] {
        if a == b { return [] }
        if let ja = JSONParser.parse(a), let jb = JSONParser.parse(b) {
            return JSONDiff.differences(ja, jb).map {
                Mismatch(kind: .field, field: $0.template, baseline: $0.baseline ?? "(absent)", candidate: $0.candidate ?? "(absent)")
            }
        }
        return [Mismatch(kind: .body, field: "body", baseline: "\(a.count) bytes", candidate: "\(b.count) bytes")]
    }

    static func format(_ price: Double) -> String {
        var s = String(price)
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }
}
