/// Wilcoxon signed-rank test on paired differences d = candidate − baseline, matching
/// `scipy.stats.wilcoxon(d, zero_method="wilcox", correction=False, method=...)` (SciPy 1.17):
/// zero differences are dropped, tied |d| get average ranks, and the normal approximation uses
/// the tie-corrected variance. Checked against SciPy in `fixtures/stats/reference.json`.
///
/// `method: .auto` follows SciPy 1.17: with more than 50 differences (zeros included) the normal
/// approximation; otherwise the exact null distribution when there are no ties and no zeros; with
/// ties or zeros, SciPy's exact sign-flip permutation test when n <= 13, else the normal
/// approximation.
///
/// When every difference is zero (or there are none) the test has no information: `z` is nil and
/// both p-values are 1 (SciPy returns NaN there for the normal approximation and 1 otherwise).
public struct WilcoxonSignedRank: Codable, Sendable, Hashable {
    /// How the caller wants p-values computed.
    public enum Method: String, Codable, Sendable, Hashable {
        case auto, exact, asymptotic
    }

    /// How the p-values were actually computed.
    public enum PValueMethod: String, Codable, Sendable, Hashable {
        /// The exact null distribution of W+ for untied ranks 1...n (SciPy `method="exact"`; with
        /// ties or zeros SciPy rounds W+ down for the upper tail and up for the lower tail).
        case exact
        /// All 2^n sign flips of the observed (tied) ranks (SciPy's `PermutationMethod` for n <= 13).
        case exactPermutation
        /// Normal approximation with tie correction, no continuity correction.
        case asymptotic
    }

    /// All differences, zeros included.
    public var pairCount: Int
    /// Differences equal to zero (dropped by the "wilcox" zero method).
    public var zeroDifferences: Int
    /// n used by the test: `pairCount - zeroDifferences`.
    public var nonzeroDifferences: Int
    /// Whether some nonzero |d| are tied.
    public var hasTies: Bool
    /// W+: sum of the ranks of positive differences (candidate slower).
    public var rankSumPositive: Double
    /// W−: sum of the ranks of negative differences.
    public var rankSumNegative: Double
    /// SciPy's two-sided statistic, min(W+, W−).
    public var statistic: Double
    /// (W+ − n(n+1)/4) / σ with the tie-corrected σ; positive when the candidate tends to be slower.
    /// SciPy reports −|z| as `zstatistic` for two-sided asymptotic tests. Nil when n = 0.
    public var z: Double?
    public var pValueTwoSided: Double
    /// One-sided p for "candidate slower" (SciPy `alternative="greater"`).
    public var pValueGreater: Double
    public var method: PValueMethod

    /// Largest nonzero count for which `.exact` builds the exact null distribution (O(n³));
    /// beyond it `.exact` falls back to the normal approximation, and `method` says so.
    public static let exactLimit = 1_000

    /// Runs the test on `differences` (any order; sorts a copy).
    public init(differences: [Int64], method requested: Method = .auto) {
        self.init(sortedDifferences: RadixSort.sorted(differences), method: requested)
    }

    /// Contract: `sortedDifferences` is ascending. O(n) after the sort.
    public init(sortedDifferences d: [Int64], method requested: Method = .auto) {
        let n = d.count
        let firstNonNegative = d.partitioningIndex { $0 >= 0 }
        let firstPositive = d.partitioningIndex { $0 > 0 }
        let zeros = firstPositive - firstNonNegative

        // Merge negatives (walked from −1 downwards) and positives (upwards) into |d| order, one tie
        // group at a time; ranks are kept doubled so that average ranks stay integers.
        var doubledPositive: Int64 = 0
        var doubledNegative: Int64 = 0
        var tieCorrection = 0.0
        var ties = false
        var negative = firstNonNegative - 1
        var positive = firstPositive
        var nextRank: Int64 = 1
        while negative >= 0 || positive < n {
            let magnitude: Int64
            if negative < 0 {
                magnitude = d[positive]
            } else if positive >= n {
                magnitude = -d[negative]
            } else {
                magnitude = Swift.min(-d[negative], d[positive])
            }
            var negativeCount: Int64 = 0
            while negative >= 0 && -d[negative] == magnitude { negativeCount += 1; negative -= 1 }
            var positiveCount: Int64 = 0
            while positive < n && d[positive] == magnitude { positiveCount += 1; positive += 1 }
            let size = negativeCount + positiveCount
            let doubledAverage = 2 * nextRank + size - 1
            doubledPositive += doubledAverage * positiveCount
            doubledNegative += doubledAverage * negativeCount
            if size > 1 {
                ties = true
                let t = Double(size)
                tieCorrection += t * t * t - t
            }
            nextRank += size
        }

        let count = n - zeros
        pairCount = n
        zeroDifferences = zeros
        nonzeroDifferences = count
        hasTies = ties
        rankSumPositive = Double(doubledPositive) / 2
        rankSumNegative = Double(doubledNegative) / 2
        statistic = Swift.min(rankSumPositive, rankSumNegative)

        let c = Double(count)
        let mean = c * (c + 1) * 0.25
        let variance = (c * (c + 1) * (2 * c + 1) - tieCorrection / 2) / 24
        let sigma = variance.squareRoot()
        z = sigma > 0 ? (rankSumPositive - mean) / sigma : nil

        var chosen: PValueMethod
        switch requested {
        case .asymptotic:
            chosen = .asymptotic
        case .exact:
            chosen = count <= Self.exactLimit ? .exact : .asymptotic
        case .auto:
            if n > 50 {
                chosen = .asymptotic
            } else if !ties && zeros == 0 {
                chosen = .exact
            } else if n <= 13 {
                chosen = .exactPermutation
            } else {
                chosen = .asymptotic
            }
        }
        method = chosen

        switch chosen {
        case .asymptotic:
            if let z {
                pValueGreater = StandardNormal.survival(z)
                pValueTwoSided = Swift.min(1, 2 * StandardNormal.survival(abs(z)))
            } else {
                pValueGreater = 1
                pValueTwoSided = 1
            }
        case .exact:
            let pmf = Self.nullDistribution(count: count)
            // SciPy: greater = sf(floor(W+)), less = cdf(ceil(W+)).
            let upper = Self.upperTail(pmf, from: Int(doubledPositive / 2))
            let lower = Self.lowerTail(pmf, through: Int((doubledPositive + 1) / 2))
            pValueGreater = upper
            pValueTwoSided = Swift.min(1, 2 * Swift.min(upper, lower))
        case .exactPermutation:
            let (atLeast, atMost) = Self.signFlipTails(sortedDifferences: d, firstNonNegative: firstNonNegative,
                                                      firstPositive: firstPositive, observedDoubled: doubledPositive)
            pValueGreater = atLeast
            pValueTwoSided = Swift.min(1, 2 * Swift.min(atLeast, atMost))
        }
    }

    /// The exact null distribution of W+ for untied ranks 1...count: `pmf[w] = P(W+ = w)`,
    /// w in 0...count(count+1)/2. Every entry is a dyadic rational, exact in Double for count <= 50.
    public static func nullDistribution(count: Int) -> [Double] {
        let maxSum = count * (count + 1) / 2
        var pmf = [Double](repeating: 0, count: maxSum + 1)
        pmf[0] = 1
        var reach = 0
        for rank in stride(from: 1, through: count, by: 1) {
            reach += rank
            var s = reach
            while s >= rank {
                pmf[s] = 0.5 * (pmf[s] + pmf[s - rank])
                s -= 1
            }
            while s >= 0 {
                pmf[s] *= 0.5
                s -= 1
            }
        }
        return pmf
    }

    /// P(W+ >= w), summed from the far end of the tail.
    static func upperTail(_ pmf: [Double], from w: Int) -> Double {
        if w <= 0 { return 1 }
        if w >= pmf.count { return 0 }
        var total = 0.0
        var index = pmf.count - 1
        while index >= w { total += pmf[index]; index -= 1 }
        return Swift.min(1, total)
    }

    /// P(W+ <= w), summed from 0.
    static func lowerTail(_ pmf: [Double], through w: Int) -> Double {
        if w < 0 { return 0 }
        if w >= pmf.count - 1 { return 1 }
        var total = 0.0
        for index in 0...w { total += pmf[index] }
        return Swift.min(1, total)
    }

    /// Exact sign-flip tails (P(W+ >= observed), P(W+ <= observed)) over the observed doubled ranks,
    /// by counting subset sums; for the small n where SciPy enumerates all 2^n flips.
    static func signFlipTails(sortedDifferences d: [Int64], firstNonNegative: Int, firstPositive: Int,
                              observedDoubled: Int64) -> (atLeast: Double, atMost: Double) {
        // Doubled average ranks of the nonzero |d|, recomputed in |d| order.
        var magnitudes = d[..<firstNonNegative].map { -$0 } + d[firstPositive...]
        magnitudes.sort()
        var doubledRanks: [Int] = []
        var start = 0
        while start < magnitudes.count {
            var end = start
            while end < magnitudes.count && magnitudes[end] == magnitudes[start] { end += 1 }
            let size = end - start
            let doubled = 2 * (start + 1) + size - 1
            doubledRanks.append(contentsOf: repeatElement(doubled, count: size))
            start = end
        }
        let total = doubledRanks.reduce(0, +)
        var ways = [Double](repeating: 0, count: total + 1)
        ways[0] = 1
        for rank in doubledRanks {
            var s = total
            while s >= rank { ways[s] += ways[s - rank]; s -= 1 }
        }
        let flips = Double(1 << doubledRanks.count)
        var atLeast = 0.0
        var atMost = 0.0
        for (sum, count) in ways.enumerated() {
            if Int64(sum) >= observedDoubled { atLeast += count }
            if Int64(sum) <= observedDoubled { atMost += count }
        }
        return (atLeast / flips, atMost / flips)
    }
}

extension Array where Element == Int64 {
    /// The first index whose element satisfies `predicate`, for a predicate that is false then true
    /// along the array (binary search).
    func partitioningIndex(where predicate: (Int64) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = low + (high - low) / 2
            if predicate(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
