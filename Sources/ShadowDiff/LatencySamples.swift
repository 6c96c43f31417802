import ShadowCore

/// Paired latencies of a run, per endpoint: `baseline[i]` and `candidate[i]` answered the same
/// request. Pairs where either side failed are left out and counted.
struct LatencySamples: Sendable {
    struct Pairs: Sendable {
        var baseline: [Int64] = []
        var candidate: [Int64] = []

        mutating func append(_ b: Int64, _ c: Int64) {
            baseline.append(b)
            candidate.append(c)
        }
    }

    private(set) var byEndpoint: [String: Pairs] = [:]
    /// Baseline vs secondary: what latency differences between two instances of one build look like.
    private(set) var secondary = Pairs()
    private(set) var skipped: [String: Int64] = [:]

    mutating func add(endpoint: String, baseline: SideResult, candidate: SideResult, secondary s: SideResult?) {
        guard baseline.error == nil, candidate.error == nil, let b = baseline.latencyNs, let c = candidate.latencyNs else {
            skipped[baseline.error != nil || candidate.error != nil ? "a side failed" : "no latency recorded", default: 0] += 1
            return
        }
        byEndpoint[endpoint, default: Pairs()].append(b, c)
        if let s, s.error == nil, let sn = s.latencyNs {
            secondary.append(b, sn)
        }
    }
}
