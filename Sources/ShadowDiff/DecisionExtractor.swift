/// What a bidder bid for one impression: the fields a decision is compared on.
public struct Bid: Sendable, Hashable {
    public var price: Double
    public var crid: String?
    /// Sorted, so order within the array does not count as a difference.
    public var adomain: [String]
    public var dealid: String?
    public var cat: [String]
    public var attr: [String]
    public var seat: String?
    public var currency: String
}

/// OpenRTB 2.5/2.6 decisions: what counts as one, and how two are compared. A 200 body is read
/// into decisions by `JSONParser.openRTBBids`.
///
/// No-bid is HTTP 204, an empty body, a body without `seatbid` or with an empty one, or a
/// body carrying `nbr` without bids. Per-response noise (`id`, `bidid`, bid `id`, `ext`, markup,
/// timestamps) is not part of a decision. When a response holds several bids for one
/// impression, the highest price wins. Impressions the response does not bid on are no-bids,
/// so two responses are compared over the union of the impressions they bid on.
public enum DecisionExtractor {
    /// Whether `request` is an OpenRTB bid request: a JSON object with an `imp` array.
    public static func isBidRequest(_ request: JSONValue?) -> Bool {
        request?["imp"]?.arrayValue != nil
    }

    /// Mismatches between two decisions, as `/imp/*/<field>` fields located by impression.
    static func compare(_ left: [String: Bid], _ right: [String: Bid], rules: DiffRules) -> [Mismatch] {
        var out: [Mismatch] = []
        var impids = Array(left.keys)
        for impid in right.keys where left[impid] == nil { impids.append(impid) }
        impids.sort()
        for impid in impids {
            let a = left[impid], b = right[impid]
            func emit(_ name: String, _ l: String, _ r: String) {
                guard !rules.ignores(["imp", impid, name]) else { return }
                out.append(Mismatch(kind: name == "bid" ? .decision : .field, field: "/imp/*/\(name)", impression: impid, left: l, right: r))
            }
            guard let a, let b else {
                emit("bid", a.map { "bid \(format($0.price))" } ?? "no-bid", b.map { "bid \(format($0.price))" } ?? "no-bid")
                continue
            }
            let priceEqual = a.price == b.price
                || (rules.tolerance(at: ["imp", impid, "price"]) ?? NumericTolerance(path: PathPattern.any, relative: rules.priceTolerance))
                    .equal(a.price, b.price)
            if !priceEqual { emit("price", format(a.price), format(b.price)) }
            func check(_ name: String, _ l: String?, _ r: String?) {
                if l != r { emit(name, l ?? "(absent)", r ?? "(absent)") }
            }
            func check(_ name: String, _ l: [String], _ r: [String]) {
                guard l != r else { return }
                let (lt, rt) = (l.joined(separator: ","), r.joined(separator: ","))
                if lt != rt { emit(name, lt, rt) }
            }
            check("crid", a.crid, b.crid)
            check("adomain", a.adomain, b.adomain)
            check("dealid", a.dealid, b.dealid)
            check("cat", a.cat, b.cat)
            check("attr", a.attr, b.attr)
            check("seat", a.seat, b.seat)
            check("cur", a.currency, b.currency)
        }
        return out
    }

    static func format(_ price: Double) -> String {
        var s = String(price)
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }
}

extension PathPattern {
    /// `/**`, every path.
    static let any = PathPattern(trusted: [.anyDepth], text: "/**")

    private init(trusted segments: [Segment], text: String) {
        self.segments = segments
        self.text = text
    }
}
