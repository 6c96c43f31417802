import ShadowStats
import Testing

@Suite struct PercentileTests {
    @Test func labelsRoundTrip() {
        #expect(Percentile.p50.label == "p50")
        #expect(Percentile.p999.label == "p99.9")
        #expect(Percentile(partsPerMillion: 999_900).label == "p99.99")
        #expect(Percentile(partsPerMillion: 999_999).label == "p99.9999")
        #expect(Percentile.max.label == "max")
        for level in [Percentile.p50, .p90, .p99, .p999, .max, Percentile(partsPerMillion: 123_456)] {
            #expect(Percentile(label: level.label) == level)
        }
        #expect(Percentile(label: "p100") == .max)
        #expect(Percentile(label: "P99.9") == .p999)
        for bad in ["", "p", "99", "p101", "p99.99999", "p-1", "p9.", "px", "p99.9.9"] {
            #expect(Percentile(label: bad) == nil, "\(bad)")
        }
    }

    /// "at least 10 observations at or above": n >= ceil(10 / (1 − p)).
    @Test func minimumSamples() {
        #expect(Percentile.p50.minimumSamples == 20)
        #expect(Percentile.p90.minimumSamples == 100)
        #expect(Percentile.p99.minimumSamples == 1_000)
        #expect(Percentile.p999.minimumSamples == 10_000)
        #expect(Percentile(partsPerMillion: 999_900).minimumSamples == 100_000)
        #expect(Percentile(partsPerMillion: 950_000).minimumSamples == 200)
        #expect(Percentile(partsPerMillion: 333_333).minimumSamples == 15)  // 10 / 0.666667 = 14.99...
        #expect(Percentile.max.minimumSamples == 1)
    }

    @Test func nearestRanksAreExact() {
        #expect(Percentile.p999.nearestRank(count: 2_000) == 1_998)  // numpy's float path says 1999
        #expect(Percentile.p90.nearestRank(count: 100) == 90)
        #expect(Percentile.p50.nearestRank(count: 1) == 1)
        #expect(Percentile.p50.nearestRank(count: 4) == 2)
        #expect(Percentile.p50.nearestRank(count: 5) == 3)
        #expect(Percentile(partsPerMillion: 0).nearestRank(count: 9) == 1)
        #expect(Percentile.max.nearestRank(count: 9) == 9)
    }

    @Test func summaryWithholdsPercentilesWithoutEnoughSamples() {
        let summary = LatencySummary(latencies: (1...999).map { Int64($0) })
        #expect(summary.valueNs(at: .p50) == 500)
        #expect(summary.valueNs(at: .p90) == 900)
        #expect(summary.valueNs(at: .p99) == nil)
        #expect(summary.valueNs(at: .max) == 999)
        let p99 = summary.percentiles.first { $0.percentile == .p99 }!
        #expect(p99.requiredSamples == 1_000)
        #expect(p99.unavailableReason == "p99 needs ≥ 1000 samples (has 999)")
        let empty = LatencySummary(latencies: [])
        #expect(empty.percentiles.allSatisfy { $0.valueNs == nil })
    }

    @Test func ratioSkipsZeroBaselines() {
        let baseline: [Int64] = [0, 100, 200, 0, 400] + [Int64](repeating: 1_000, count: 100)
        let candidate: [Int64] = [5, 150, 100, 0, 400] + [Int64](repeating: 1_100, count: 100)
        let ratio = LatencyRatioSummary(baseline: baseline, candidate: candidate)
        #expect(ratio.skippedZeroBaseline == 2)
        #expect(ratio.pairsUsed == 103)
        #expect(ratio.median == 1.1)
        #expect(ratio.p90 == 1.1)
        let few = LatencyRatioSummary(baseline: [100, 200], candidate: [150, 100])
        #expect(few.median == nil && few.p90 == nil)
        #expect(few.percentiles[0].unavailableReason == "p50 needs ≥ 20 pairs (has 2)")
    }
}
