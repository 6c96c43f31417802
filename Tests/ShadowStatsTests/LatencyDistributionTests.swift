import Foundation
import ShadowStats
import Testing

@Suite struct LatencyDistributionTests {
    /// The ceil(p × n)-th smallest value (the smallest for p = 0), found by a linear scan.
    private func referenceQuantile(_ sorted: [Int64], ppm: Int) -> Int64 {
        for (index, value) in sorted.enumerated() where (index + 1) * 1_000_000 >= ppm * sorted.count {
            return value
        }
        return sorted[sorted.count - 1]
    }

    private func ppm(_ fraction: Double) -> Int { Int((fraction * 1_000_000).rounded()) }

    private func sample(_ count: Int, median: Double, sigma: Double, seed: UInt64) -> [Int64] {
        var random = TestRandom(seed: seed)
        return (0..<count).map { _ in Int64(random.logNormal(median: median, sigma: sigma)) }.sorted()
    }

    private func checkInvariants(_ d: LatencyDistribution, _ inputs: [[Int64]]) {
        #expect(zip(d.binEdgesNs, d.binEdgesNs.dropFirst()).allSatisfy { $0 < $1 })
        for (series, sorted) in zip(d.series, inputs) {
            #expect(series.count == sorted.count)
            #expect(series.histogram.count == max(0, d.binEdgesNs.count - 1))
            #expect(series.histogram.reduce(0, +) == sorted.count)
            #expect(zip(series.cdf, series.cdf.dropFirst()).allSatisfy { $0.valueNs < $1.valueNs && $0.fraction < $1.fraction })
            guard let first = sorted.first, let last = sorted.last else {
                #expect(series.cdf.isEmpty)
                continue
            }
            #expect(series.cdf.first?.valueNs == first)
            #expect(series.cdf.last == LatencyDistribution.CDFPoint(valueNs: last, fraction: 1))
        }
    }

    @Test func histogramsShareLogSpacedEdgesAndSumToTheirCounts() {
        let baseline = sample(20_000, median: 2_000_000, sigma: 0.6, seed: 1)
        let candidate = sample(15_000, median: 2_400_000, sigma: 0.8, seed: 2)
        let secondary = ([0, 0, 250, 999, 1_000] + sample(3_000, median: 2_000_000, sigma: 0.6, seed: 3)).sorted()
        let d = LatencyDistribution(series: [("baseline", baseline), ("candidate", candidate), ("secondary", secondary)])
        checkInvariants(d, [baseline, candidate, secondary])
        #expect(d.binEdgesNs.count == 61)
        #expect(d.binEdgesNs.first == 1_000)
        #expect(d.binEdgesNs.last == max(baseline.last!, candidate.last!, secondary.last!))
        // Log spacing: consecutive edge ratios are all about the same.
        let ratios = zip(d.binEdgesNs, d.binEdgesNs.dropFirst()).map { Double($1) / Double($0) }
        #expect(ratios.allSatisfy { abs($0 / ratios[0] - 1) < 0.01 })
        // Samples below the 1 µs floor count in the first bin, each sample in the bin holding it.
        let edges = d.binEdgesNs
        for (series, sorted) in zip(d.series, [baseline, candidate, secondary]) {
            let expected = (0..<(edges.count - 1)).map { bin in
                sorted.filter { value in
                    (bin == 0 || value >= edges[bin]) && (bin == edges.count - 2 || value < edges[bin + 1])
                }.count
            }
            #expect(series.histogram == expected)
        }
        #expect(d.series[2].histogram[0] >= 5)
    }

    @Test func cdfPointsAreNearestRankQuantilesDenseInTheTail() {
        let inputs = [
            sample(5_000, median: 1_500_000, sigma: 0.7, seed: 4),
            sample(12_345, median: 900_000, sigma: 1.1, seed: 5).map { $0 / 1_000 * 1_000 },  // ties
            sample(37, median: 3_000_000, sigma: 0.3, seed: 6),
            [7, 7, 7, 9, 9, 11],
        ]
        let d = LatencyDistribution(series: inputs.enumerated().map { ("s\($0.offset)", $0.element) })
        checkInvariants(d, inputs)
        for (series, sorted) in zip(d.series, inputs) {
            #expect(series.cdf.count <= 200)
            for point in series.cdf {
                #expect(point.valueNs == referenceQuantile(sorted, ppm: ppm(point.fraction)), "\(series.name) at \(point.fraction)")
            }
            for level in [Percentile.p50, .p90, .p99, .p999, .max] {
                #expect(series.valueNs(at: level) == Percentiles.nearestRank(level, ofSorted: sorted))
            }
        }
        let big = d.series[0].cdf
        #expect(big.count > 150)
        // Per unit of probability, the top 10 % get several times the points of the rest.
        let tailPoints = Double(big.filter { $0.fraction >= 0.9 }.count)
        let bodyPoints = Double(big.filter { $0.fraction < 0.9 }.count)
        #expect(tailPoints / 0.1 > 5 * bodyPoints / 0.9)
        #expect(big.contains { $0.fraction == 0.999 })
        #expect(!big.contains { $0.fraction == 0.9999 })  // 5,000 samples: p99.99 is the maximum
        let tail = LatencyDistribution(series: [("x", sample(20_000, median: 1e6, sigma: 1, seed: 7))])
        #expect(tail.series[0].cdf.contains { $0.fraction == 0.9999 })
    }

    @Test func emptySingleAndEqualInputs() {
        let none = LatencyDistribution(series: [("baseline", []), ("candidate", [])])
        #expect(none.binEdgesNs.isEmpty)
        #expect(none.series.map(\.count) == [0, 0])
        #expect(none.series.allSatisfy { $0.histogram.isEmpty && $0.cdf.isEmpty })
        #expect(LatencyDistribution(series: []).series.isEmpty)

        let one = LatencyDistribution(series: [("baseline", [2_000_000]), ("candidate", [])])
        checkInvariants(one, [[2_000_000], []])
        #expect(one.binEdgesNs == [1_900_000, 2_100_000])
        #expect(one.series[0].histogram == [1])
        #expect(one.series[0].cdf == [.init(valueNs: 2_000_000, fraction: 1)])
        #expect(one.series[1].histogram == [0])
        #expect(one.series[1].valueNs(at: .p50) == nil)

        let equal = [Int64](repeating: 3_000_000, count: 1_000)
        let same = LatencyDistribution(series: [("a", equal), ("b", [0, 3_000_000])])
        checkInvariants(same, [equal, [0, 3_000_000]])
        #expect(same.binEdgesNs == [2_850_000, 3_150_000])
        #expect(same.series.map(\.histogram) == [[1_000], [2]])
        #expect(same.series[0].cdf == [.init(valueNs: 3_000_000, fraction: 1)])
        #expect(same.series[1].cdf == [.init(valueNs: 0, fraction: 0.5), .init(valueNs: 3_000_000, fraction: 1)])

        let tiny = LatencyDistribution(series: [("a", [-5, 0, 300, 999])])
        checkInvariants(tiny, [[-5, 0, 300, 999]])
        #expect(tiny.binEdgesNs == [950, 1_050])
        #expect(tiny.series[0].histogram == [4])

        // A range narrower than the bin count: fewer bins, still strictly increasing.
        let narrow = Array(Int64(1_000)...1_010)
        let few = LatencyDistribution(series: [("a", narrow)], bins: 60)
        checkInvariants(few, [narrow])
        #expect(few.binEdgesNs.count <= 11)

        let minimal = LatencyDistribution(series: [("a", sample(1_000, median: 1e6, sigma: 0.5, seed: 8))], bins: 1, cdfPoints: 2)
        #expect(minimal.series[0].histogram == [1_000])
        #expect(minimal.series[0].cdf.map(\.fraction) == [0, 1])
    }

    @Test func millionSamplesGiveABoundedResult() throws {
        let million = sample(1_000_000, median: 2_000_000, sigma: 0.9, seed: 9)
        let d = LatencyDistribution(series: [("baseline", million), ("candidate", million.map { $0 + 100_000 })])
        for series in d.series {
            #expect(series.count == 1_000_000)
            #expect(series.histogram.count <= 60)
            #expect(series.cdf.count <= 200)
            #expect(series.cdf.filter { $0.fraction > 0.9 }.count >= 95)
            #expect(series.histogram.reduce(0, +) == 1_000_000)
        }
        #expect(d.binEdgesNs.count <= 61)
        let json = try JSONEncoder().encode(d)
        #expect(json.count < 30_000)
        #expect(try JSONDecoder().decode(LatencyDistribution.self, from: json) == d)
    }
}
