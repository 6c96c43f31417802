/// Order statistics of the pair sums d_i + d_j (i <= j) of integer differences, without listing
/// the n(n+1)/2 sums: binary search over the integer sum value, each step counting sums <= t with
/// a two-pointer pass over the sorted values (O(n log(range))).
///
/// Contract for every function: `sorted` is ascending and every |value| < 2^61 (so sums and their
/// differences fit in Int64).
public enum WalshSums {
    /// Number of pairs i <= j with sorted[i] + sorted[j] <= t.
    public static func countPairSums(inSorted sorted: [Int64], atMost t: Int64) -> Int {
        sorted.withUnsafeBufferPointer { countPairSums($0, atMost: t) }
    }

    static func countPairSums(_ a: UnsafeBufferPointer<Int64>, atMost t: Int64) -> Int {
        let n = a.count
        // Ordered pairs (i, j), both orders and i == j: for each i, j runs down from the top.
        var ordered = 0
        var j = n - 1
        var i = 0
        while i < n && j >= 0 {
            let left = a[i]
            while j >= 0 && left + a[j] > t { j -= 1 }
            ordered += j + 1
            i += 1
        }
        // Diagonal pairs: 2 a[i] <= t, i.e. a[i] <= floor(t / 2).
        let half = t >> 1  // floor division for negative t too
        var low = 0
        var high = n
        while low < high {
            let middle = (low + high) >> 1
            if a[middle] <= half { low = middle + 1 } else { high = middle }
        }
        return (ordered + low) / 2
    }

    /// The k-th smallest (1-based) pair sum sorted[i] + sorted[j] over i <= j, searching within
    /// `lowerBound...upperBound` (which must contain it; defaults: 2·min ... 2·max).
    /// Precondition: 1 <= k <= n(n+1)/2.
    public static func kthSmallestPairSum(inSorted sorted: [Int64], k: Int,
                                          lowerBound: Int64? = nil, upperBound: Int64? = nil) -> Int64 {
        let n = sorted.count
        precondition(n > 0 && k >= 1 && k <= n * (n + 1) / 2, "pair-sum rank \(k) out of range for n = \(n)")
        return sorted.withUnsafeBufferPointer { a in
            var low = lowerBound ?? 2 * a[0]
            var high = upperBound ?? 2 * a[n - 1]
            // Invariant: the answer is in low...high (count(high) >= k).
            while low < high {
                let middle = (low >> 1) + (high >> 1) + (low & high & 1)  // floor((low + high) / 2)
                if countPairSums(a, atMost: middle) >= k { high = middle } else { low = middle + 1 }
            }
            return low
        }
    }

    /// The smallest pair sum sorted[i] + sorted[j] (i <= j) strictly greater than `t`, or nil when
    /// there is none (one O(n) pass).
    public static func smallestPairSum(inSorted sorted: [Int64], above t: Int64) -> Int64? {
        let n = sorted.count
        var best: Int64? = nil
        // p = the first index with sorted[i] + sorted[p] > t; it only moves down as i rises.
        var p = n
        for i in 0..<n {
            while p > 0 && sorted[i] + sorted[p - 1] > t { p -= 1 }
            let j = Swift.max(i, p)
            guard j < n else { continue }
            let sum = sorted[i] + sorted[j]
            if best.map({ sum < $0 }) ?? true { best = sum }
        }
        return best
    }
}

/// Hodges–Lehmann estimate of the paired shift: the median of the Walsh averages
/// (d_i + d_j) / 2, i <= j, of the differences d = candidate − baseline (zeros included), with
/// the Wilcoxon-based confidence interval from Walsh-average order statistics:
/// low = the C-th smallest, high = the (M + 1 − C)-th smallest, M = n(n+1)/2, where C − 1 is the
/// largest w with P(W+ <= w) <= (1 − level)/2 under the untied null distribution (exact for
/// n <= 50), or C = floor(n(n+1)/4 + 0.5 − z·σ), σ² = n(n+1)(2n+1)/24, z = Φ⁻¹((1 + level)/2)
/// for larger n. Checked against brute force over all Walsh averages (fixtures/stats).
///
/// Contract: differences are integers with |d| < 2^61. Runs on 10^6 differences in a few tenths
/// of a second in release builds (never lists the 5·10^11 averages).
public struct HodgesLehmann: Codable, Sendable, Hashable {
    public enum IntervalMethod: String, Codable, Sendable, Hashable {
        case exact, normal
    }

    public var pairCount: Int
    /// The median Walsh average in ns; nil when there are no differences.
    public var estimateNs: Double?
    public var lowNs: Double?
    public var highNs: Double?
    public var confidenceLevel: Double
    public var intervalMethod: IntervalMethod?
    /// C: 1-based rank of the Walsh average used as the lower bound (upper: M + 1 − C).
    public var lowerRank: Int?
    /// Why the interval is missing (no differences, or too few for this level).
    public var unavailableReason: String?

    /// Largest n for which the interval uses the exact null distribution.
    public static let exactLimit = 50

    public init(differences: [Int64], confidenceLevel: Double = 0.95) {
        self.init(sortedDifferences: differences.sorted(), confidenceLevel: confidenceLevel)
    }

    /// Contract: `sortedDifferences` is ascending; 0 < confidenceLevel < 1.
    public init(sortedDifferences d: [Int64], confidenceLevel: Double = 0.95) {
        precondition(confidenceLevel > 0 && confidenceLevel < 1, "confidence level must be in (0, 1)")
        let n = d.count
        pairCount = n
        self.confidenceLevel = confidenceLevel
        guard n > 0 else {
            estimateNs = nil; lowNs = nil; highNs = nil; intervalMethod = nil; lowerRank = nil
            unavailableReason = "no pairs"
            return
        }
        let walshCount = n * (n + 1) / 2
        let lowest = 2 * d[0]
        let highest = 2 * d[n - 1]

        // Median: the ((M+1)/2)-th sum for odd M; the mean of the (M/2)-th and next for even M.
        let middleRank = (walshCount + 1) / 2
        let middle = WalshSums.kthSmallestPairSum(inSorted: d, k: middleRank)
        if walshCount % 2 == 1 {
            estimateNs = Double(middle) / 2
        } else {
            let next = WalshSums.countPairSums(inSorted: d, atMost: middle) > middleRank
                ? middle
                : (WalshSums.smallestPairSum(inSorted: d, above: middle) ?? middle)
            estimateNs = (Double(middle) + Double(next)) / 4
        }

        let tail = (1 - confidenceLevel) / 2
        let rank: Int
        if n <= Self.exactLimit {
            intervalMethod = .exact
            let pmf = WilcoxonSignedRank.nullDistribution(count: n)
            var cumulative = 0.0
            var c = 0
            // C − 1 = largest w with P(W+ <= w) <= tail; C = 0 when even w = 0 exceeds it.
            while c < pmf.count {
                cumulative += pmf[c]
                if cumulative > tail { break }
                c += 1
            }
            rank = c
        } else {
            intervalMethod = .normal
            let count = Double(n)
            let sigma = (count * (count + 1) * (2 * count + 1) / 24).squareRoot()
            let z = StandardNormal.quantile(1 - tail)
            rank = Int((count * (count + 1) / 4 + 0.5 - z * sigma).rounded(.down))
        }
        if rank >= 1 && rank <= walshCount + 1 - rank {
            lowerRank = rank
            let low = WalshSums.kthSmallestPairSum(inSorted: d, k: rank, lowerBound: lowest, upperBound: middle)
            let high = WalshSums.kthSmallestPairSum(inSorted: d, k: walshCount + 1 - rank,
                                                    lowerBound: middle, upperBound: highest)
            lowNs = Double(low) / 2
            highNs = Double(high) / 2
            unavailableReason = nil
        } else {
            lowerRank = nil
            lowNs = nil
            highNs = nil
            unavailableReason = "\(n) pairs are too few for a \(percentText(confidenceLevel)) interval"
        }
    }
}

/// "95%", "99.5%": a confidence level for messages.
func percentText(_ level: Double) -> String {
    let percent = level * 100
    let rounded = percent.rounded()
    return abs(percent - rounded) < 1e-9 ? "\(Int(rounded))%" : "\(percent)%"
}
