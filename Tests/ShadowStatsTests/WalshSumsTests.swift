import ShadowStats
import Testing

@Suite struct WalshSumsTests {
    /// All pair sums i <= j, sorted: the brute force the selection must agree with.
    func bruteForceSums(_ sorted: [Int64]) -> [Int64] {
        var sums: [Int64] = []
        for i in sorted.indices { for j in i..<sorted.count { sums.append(sorted[i] + sorted[j]) } }
        return sums.sorted()
    }

    @Test(arguments: [1, 2, 3, 7, 40, 151])
    func selectionMatchesBruteForce(count: Int) {
        var random = TestRandom(seed: UInt64(count) &* 977)
        for trial in 0..<4 {
            // Narrow ranges make many ties; wide ones exercise the binary search depth.
            let spread: Int64 = trial.isMultiple(of: 2) ? 5 : 3_000_000_000_000
            let sorted = (0..<count).map { _ in random.integer(in: -spread...spread) }.sorted()
            let sums = bruteForceSums(sorted)
            for k in Set([1, sums.count, (sums.count + 1) / 2, max(1, sums.count / 3), Int.random(in: 1...sums.count, using: &random)]) {
                #expect(WalshSums.kthSmallestPairSum(inSorted: sorted, k: k) == sums[k - 1], "n=\(count) k=\(k)")
            }
            for probe in [sums[0] - 1, sums[sums.count / 2], sums[sums.count - 1], sums[0]] {
                #expect(WalshSums.countPairSums(inSorted: sorted, atMost: probe) == sums.filter { $0 <= probe }.count)
                #expect(WalshSums.smallestPairSum(inSorted: sorted, above: probe) == sums.first { $0 > probe })
            }
        }
    }

    @Test func hodgesLehmannMatchesBruteForceOnRandomSamples() {
        var random = TestRandom(seed: 42)
        for count in [2, 6, 9, 50, 51, 120, 333] {
            let d = (0..<count).map { _ in random.integer(in: -2_000...3_000) }
            let sums = bruteForceSums(d.sorted())
            let m = sums.count
            let median = m % 2 == 1 ? Double(sums[m / 2]) / 2 : (Double(sums[m / 2 - 1]) + Double(sums[m / 2])) / 4
            let result = HodgesLehmann(differences: d)
            #expect(result.estimateNs == median, "n=\(count)")
            if let rank = result.lowerRank {
                #expect(result.lowNs == Double(sums[rank - 1]) / 2)
                #expect(result.highNs == Double(sums[m - rank]) / 2)
            } else {
                #expect(count < 6)
            }
        }
    }

    @Test func edgeCases() {
        let empty = HodgesLehmann(differences: [])
        #expect(empty.estimateNs == nil && empty.lowNs == nil && empty.unavailableReason == "no pairs")

        let single = HodgesLehmann(differences: [-17])
        #expect(single.estimateNs == -17 && single.lowNs == nil)
        #expect(single.unavailableReason == "1 pairs are too few for a 95% interval")

        let zeros = HodgesLehmann(differences: [Int64](repeating: 0, count: 1_000))
        #expect(zeros.estimateNs == 0 && zeros.lowNs == 0 && zeros.highNs == 0 && zeros.intervalMethod == .normal)

        let wilcoxonEmpty = WilcoxonSignedRank(differences: [])
        #expect(wilcoxonEmpty.z == nil && wilcoxonEmpty.pValueTwoSided == 1 && wilcoxonEmpty.pValueGreater == 1)
        let wilcoxonZeros = WilcoxonSignedRank(differences: [Int64](repeating: 0, count: 1_000))
        #expect(wilcoxonZeros.method == .asymptotic && wilcoxonZeros.z == nil && wilcoxonZeros.pValueGreater == 1)
        #expect(wilcoxonZeros.nonzeroDifferences == 0 && wilcoxonZeros.statistic == 0)
    }

    /// Latencies up to ~3.6e12 ns (an hour) and differences of either sign: sums stay in Int64.
    @Test func extremeValuesDoNotOverflow() {
        let big: Int64 = 3_600_000_000_000
        let d: [Int64] = [-big, -big + 1, -5, 0, 7, big - 1, big, big]
        let sums = bruteForceSums(d.sorted())
        for k in 1...sums.count {
            #expect(WalshSums.kthSmallestPairSum(inSorted: d.sorted(), k: k) == sums[k - 1])
        }
        // The largest magnitudes the analysis accepts: |v| < 2^60, so |d| < 2^61.
        let edge: Int64 = (1 << 61) - 1
        let extreme: [Int64] = [-edge, -edge, 0, edge, edge]
        let extremeSums = bruteForceSums(extreme)
        for k in 1...extremeSums.count {
            #expect(WalshSums.kthSmallestPairSum(inSorted: extreme, k: k) == extremeSums[k - 1])
        }
        let hl = HodgesLehmann(differences: extreme)
        #expect(hl.estimateNs == 0)
        let w = WilcoxonSignedRank(differences: extreme)
        #expect(w.rankSumPositive == w.rankSumNegative)
    }

    @Test func analysisRejectsOutOfRangeAndUnpairedInput() {
        #expect(throws: LatencySampleError.lengthMismatch(baselineCount: 2, candidateCount: 1)) {
            try PairedLatencyAnalysis(baseline: [1, 2], candidate: [1])
        }
        #expect(throws: LatencySampleError.valueOutOfRange(side: .candidate, index: 1, valueNs: 1 << 60)) {
            try PairedLatencyAnalysis(baseline: [1, 2], candidate: [1, 1 << 60])
        }
        let limit: Int64 = (1 << 60) - 1
        let analysis = try? PairedLatencyAnalysis(baseline: [-limit, limit, 0], candidate: [limit, -limit, 0])
        #expect(analysis?.shift.estimateNs == 0)
    }
}
