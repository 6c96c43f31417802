@testable import ShadowStats
import Testing

@Suite struct PairedBootstrapTests {
    @Test func sameSeedSameOutputDifferentSeedDifferentOutput() {
        var random = TestRandom(seed: 1)
        let (baseline, candidate) = simulatedPairs(count: 1_500, random: &random, slowFraction: 0.1, slowNs: 1_000_000)
        let first = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p50, .p99],
                                    configuration: .init(resamples: 300, seed: 99))
        let second = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p50, .p99],
                                     configuration: .init(resamples: 300, seed: 99))
        let other = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p50, .p99],
                                    configuration: .init(resamples: 300, seed: 100))
        #expect(first.deltas.map(\.replicatesNs) == second.deltas.map(\.replicatesNs))
        #expect(first.deltas.map(\.replicatesNs) != other.deltas.map(\.replicatesNs))

        let analysis = try? PairedLatencyAnalysis(baseline: baseline, candidate: candidate)
        let again = try? PairedLatencyAnalysis(baseline: baseline, candidate: candidate)
        #expect(analysis != nil && analysis == again)
    }

    /// The generator's stream is fixed: changing it silently would change every stored verdict.
    @Test func generatorStreamIsPinned() {
        var generator = SplitMix64Generator(seed: 0)
        // SplitMix64 reference outputs for seed 0 (Vigna's splitmix64.c).
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        var bounded = SplitMix64Generator(seed: 5)
        let draws = (0..<10_000).map { _ in bounded.next(below: 7) }
        #expect(draws.allSatisfy { $0 < 7 })
        #expect(Set(draws).count == 7)
        let indices = RankedPairs.drawIndices(seed: 5, stream: 0, count: 7)
        #expect(indices.count == 7 && indices.allSatisfy { (0..<7).contains($0) })
    }

    /// Counting draws per rank gives exactly what sorting each resample would.
    @Test func rankCountingEqualsSortingEachResample() {
        var random = TestRandom(seed: 3)
        // Coarse values: many ties on both sides.
        // 1000 pairs: several 64-rank blocks; levels on both walks, near the ends and mid-block.
        let baseline = (0..<1_000).map { _ in random.integer(in: 0...400) * 1_000 }
        let candidate = (0..<1_000).map { _ in random.integer(in: 0...450) * 1_000 }
        let levels: [Percentile] = [.p50, .p90, .p99, Percentile(partsPerMillion: 1_000), Percentile(partsPerMillion: 100_000),
                                    Percentile(partsPerMillion: 500_001), Percentile(partsPerMillion: 960_000),
                                    Percentile(partsPerMillion: 999_000)]
        let ranked = RankedPairs(baseline: baseline, candidate: candidate)
        let ranks = levels.map { $0.nearestRank(count: baseline.count) }
        let fast = ranked.replicates(ranks: ranks, resamples: 50, seed: 11)
        for resample in 0..<50 {
            let indices = RankedPairs.drawIndices(seed: 11, stream: UInt64(resample), count: baseline.count)
            var b = indices.map { baseline[$0] }
            var c = indices.map { candidate[$0] }
            b.sort()
            c.sort()
            for (which, rank) in ranks.enumerated() {
                #expect(fast[which][resample] == c[rank - 1] - b[rank - 1])
            }
        }
    }

    @Test func pValueAndIntervalFormulas() {
        let delta = PairedBootstrap.Delta(percentile: .p50, estimateNs: 3,
                                          replicatesNs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        // (1 + #{Δ* <= t}) / (B + 1)
        #expect(delta.pValue(thresholdNs: 0) == 1.0 / 11)
        #expect(delta.pValue(thresholdNs: 3) == 4.0 / 11)
        #expect(delta.pValue(thresholdNs: 10) == 1)
        // Linear interpolation: position (B − 1)·q.
        let interval = delta.interval(confidenceLevel: 0.8)
        #expect(abs(interval.lowNs - 1.9) < 1e-12 && abs(interval.highNs - 9.1) < 1e-12)
    }

    /// Above maxPairs: a seeded subsample of m pairs, replicates rescaled by √(m/n) around the
    /// full-sample estimate; the interval keeps roughly the width of a full bootstrap.
    @Test func subsamplePathRescalesBySqrtMOverN() throws {
        var random = TestRandom(seed: 8)
        let (baseline, candidate) = simulatedPairs(count: 40_000, random: &random, slowFraction: 0.1, slowNs: 1_000_000)
        let full = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p50, .p99],
                                   configuration: .init(resamples: 400, seed: 1))
        let capped = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p50, .p99],
                                     configuration: .init(resamples: 400, seed: 1, maxPairs: 10_000))
        #expect(!full.subsampled && full.intervalScale == 1 && full.resampledPairs == 40_000)
        #expect(capped.subsampled && capped.resampledPairs == 10_000)
        #expect(capped.intervalScale == 0.5)
        for level in [Percentile.p50, .p99] {
            let a = try #require(full.delta(for: level))
            let b = try #require(capped.delta(for: level))
            #expect(a.estimateNs == b.estimateNs)  // both centered on the full-sample Δ
            let widthFull = a.interval(confidenceLevel: 0.95).highNs - a.interval(confidenceLevel: 0.95).lowNs
            let widthCapped = b.interval(confidenceLevel: 0.95).highNs - b.interval(confidenceLevel: 0.95).lowNs
            #expect(widthCapped > 0.5 * widthFull && widthCapped < 2 * widthFull, "\(level): \(widthCapped) vs \(widthFull)")
        }
        // Exactly: Δ* = Δ̂ₙ + √(m/n)·(Δ*ₘ − Δ̂ₘ) with Δ*ₘ the plain bootstrap of the subsample.
        let indices = PairedBootstrap.subsampleIndices(count: 40_000, keeping: 10_000, seed: 1)
        #expect(Set(indices).count == 10_000)
        let subBaseline = indices.map { baseline[$0] }
        let subCandidate = indices.map { candidate[$0] }
        let plain = PairedBootstrap(baseline: subBaseline, candidate: subCandidate, percentiles: [.p50, .p99],
                                    configuration: .init(resamples: 400, seed: 1))
        for level in [Percentile.p50, .p99] {
            let raw = try #require(plain.delta(for: level))
            let scaled = try #require(capped.delta(for: level))
            let expected = raw.replicatesNs.map { Double(scaled.estimateNs) + 0.5 * ($0 - Double(raw.estimateNs)) }
            #expect(zip(expected, scaled.replicatesNs).allSatisfy { abs($0 - $1) <= 1e-9 * abs($0) })
        }
        // p99.9 needs 10,000 pairs: m is raised to it when maxPairs is smaller.
        let raised = PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p999],
                                     configuration: .init(resamples: 20, seed: 1, maxPairs: 2_000))
        #expect(raised.resampledPairs == 10_000 && raised.delta(for: .p999) != nil)

        let analysis = try PairedLatencyAnalysis(
            baseline: baseline, candidate: candidate,
            options: .init(bootstrap: .init(resamples: 200, maxPairs: 10_000)))
        #expect(analysis.bootstrap.subsampled && analysis.bootstrap.resampledPairs == 10_000)
        #expect(analysis.bootstrap.intervalScale == 0.5)
    }

    @Test func tooFewPairsAndTheMaximumAreSkipped() {
        let baseline = [Int64](repeating: 1_000, count: 500)
        let run = PairedBootstrap(baseline: baseline, candidate: baseline, percentiles: [.p50, .p99, .max])
        #expect(run.delta(for: .p50) != nil)
        #expect(run.delta(for: .p99) == nil)
        #expect(run.delta(for: .max) == nil)
        #expect(run.delta(for: .p50)?.replicatesNs.allSatisfy { $0 == 0 } == true)
        let empty = PairedBootstrap(baseline: [], candidate: [], percentiles: [.p50])
        #expect(empty.deltas.isEmpty)
    }
}
