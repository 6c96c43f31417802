/// What a bidder decided for one impression.
public struct ImpressionDecision: Sendable, Hashable {
    /// The winning bid for the impression within the response, nil for no-bid.
    public var bid: Bid?

    public struct Bid: Sendable, Hashable {
        public var price: Double
        public var crid: String?
        /// Sorted, so order within the array does not count as a difference.
        public var adomain: [String]
        public var dealid: String?
        public var seat: String?
        public var currency: String
    }
}

/// Extracts OpenRTB 2.5/2.6 decisions from a bid request and a bid response.
///
/// No-bid is HTTP 204, an empty body, a body without `seatbid` or with an empty one, or a
/// body carrying `nbr`. Per-response noise (`id`, `bidid`, bid `id`, `ext`, timestamps) is not
/// part of a decision. When a response holds several bids for one impression, the highest
/// price wins.
public enum DecisionExtractor {
    /// Impression ids of a bid request, in order; nil when `request` is not an OpenRTB bid request.
    public static func impressionIDs(request: JSONValue?) -> [String]? {
        guard let imps = request?["imp"]?.arrayValue else { return nil }
        return imps.enumerated().map { i, imp in imp["id"]?.stringValue ?? imp["id"].map { $0.preview() } ?? "\(i + 1)" }
    }

    /// Decision per impression id: every impression of the request, plus any impression id the
    /// response bids on that the request did not name.
    public static func decisions(impressionIDs: [String], status: Int, body: JSONValue?) -> [String: ImpressionDecision] {
        var out: [String: ImpressionDecision] = [:]
        for id in impressionIDs { out[id] = ImpressionDecision(bid: nil) }
        guard status == 200, let body, body["nbr"] == nil || body["seatbid"]?.arrayValue?.isEmpty == false else {
            return out
        }
        let currency = body["cur"]?.stringValue ?? "USD"
        for seatbid in body["seatbid"]?.arrayValue ?? [] {
            let seat = seatbid["seat"]?.stringValue
            for bid in seatbid["bid"]?.arrayValue ?? [] {
                guard let impid = bid["impid"]?.stringValue else { continue }
                let candidate = ImpressionDecision.Bid(
                    price: bid["price"]?.numberValue ?? 0,
                    crid: bid["crid"]?.stringValue,
                    adomain: (bid["adomain"]?.arrayValue ?? []).compactMap(\.stringValue).sorted(),
                    dealid: bid["dealid"]?.stringValue,
                    seat: seat,
                    currency: currency)
                if let existing = out[impid]?.bid, existing.price >= candidate.price { continue }
                out[impid] = ImpressionDecision(bid: candidate)
            }
        }
        return out
    }
}
