#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator; the same seed gives the same
/// stream on every platform. Internal so that it never clashes with other modules' generators.
struct SplitMix64Generator: Sendable {
    private(set) var state: UInt64

    init(seed: UInt64) { state = seed }

    /// An independent-looking stream for (`seed`, `stream`): resample b of a bootstrap uses
    /// stream b, so the draws do not depend on the order or thread in which resamples run.
    init(seed: UInt64, stream: UInt64) {
        state = Self.mix(seed ^ Self.mix(stream &+ 0x632B_E59B_D9B4_E019))
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        defer { state &+= 0x9E37_79B9_7F4A_7C15 }
        return Self.mix(state)
    }

    /// Uniform in 0..<bound without bias (Lemire's multiply-and-reject). Precondition: bound > 0.
    @inline(__always)
    mutating func next(below bound: UInt64) -> UInt64 {
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }
}

/// Paired percentile bootstrap of Δp = candidate percentile − baseline percentile: each resample
/// draws n request indices with replacement and takes both sides' latencies of each drawn request
/// (pairs stay together), then computes the nearest-rank percentiles of the two resampled sides.
///
/// - Reproducible: the same inputs and `Configuration` give bit-identical replicates (SplitMix64,
///   one stream per resample).
/// - No per-resample sort: each item's rank on each side is precomputed once; a resample only
///   counts how often each rank was drawn and walks the counts to the order statistic.
/// - Large samples: with more than `maxPairs` pairs, a seeded subsample of m pairs (without
///   replacement) is bootstrapped instead and every replicate is rescaled around the full-sample
///   estimate: Δ* ← Δ̂ₙ + √(m/n)·(Δ*ₘ − Δ̂ₘ) (m-out-of-n bootstrap; `subsampled` records it).
///   With the defaults, 10^6 pairs, Δp50 and Δp99, 1000 resamples take about 0.6 s of CPU in a
///   release build on this project's machine (bench/stats/speed.sh), sorts included.
/// - Intervals are percentile-method intervals of the replicates (linear interpolation between
///   order statistics, as numpy/scipy `quantile` do); the one-sided p-value for H0: Δ <= threshold
///   is (1 + #{Δ* <= threshold}) / (B + 1).
///
/// Percentiles with fewer pairs than `Percentile.minimumSamples`, and the maximum, are skipped
/// (`delta(for:)` returns nil).
public struct PairedBootstrap: Sendable {
    public struct Configuration: Codable, Sendable, Hashable {
        /// B, the number of resamples.
        public var resamples: Int
        public var seed: UInt64
        /// Above this many pairs, bootstrap a subsample of this many (raised to the largest
        /// `minimumSamples` of the requested percentiles) and rescale by √(m/n).
        public var maxPairs: Int
        /// Two-sided level of the reported intervals.
        public var confidenceLevel: Double

        public init(resamples: Int = 1_000, seed: UInt64 = 0x5EED, maxPairs: Int = 100_000,
                    confidenceLevel: Double = 0.95) {
            precondition(resamples >= 1, "at least one resample")
            precondition(maxPairs >= 1, "maxPairs must be positive")
            precondition(confidenceLevel > 0 && confidenceLevel < 1, "confidence level must be in (0, 1)")
            self.resamples = resamples
            self.seed = seed
            self.maxPairs = maxPairs
            self.confidenceLevel = confidenceLevel
        }

        public static let `default` = Configuration()

        /// The smallest B for which Holm over `familySize` hypotheses can still reach an adjusted
        /// p-value below `alpha`: the smallest bootstrap p is 1/(B+1), so B + 1 > familySize/alpha.
        public static func minimumResamples(familySize: Int, alpha: Double) -> Int {
            Int((Double(Swift.max(familySize, 1)) / alpha).rounded(.down))
        }
    }

    /// The bootstrap distribution of one percentile's difference.
    public struct Delta: Sendable {
        public let percentile: Percentile
        /// Δ on all n pairs: candidate percentile − baseline percentile, ns.
        public let estimateNs: Int64
        /// The B replicates in ns, ascending (already rescaled when subsampled).
        public let replicatesNs: [Double]

        /// Percentile-method interval at `confidenceLevel` (two-sided).
        public func interval(confidenceLevel: Double) -> (lowNs: Double, highNs: Double) {
            let tail = (1 - confidenceLevel) / 2
            return (Self.quantile(replicatesNs, tail), Self.quantile(replicatesNs, 1 - tail))
        }

        /// One-sided bootstrap p-value for H0: Δ <= thresholdNs:
        /// (1 + #{Δ* <= thresholdNs}) / (B + 1). Small when the replicates lie above the threshold.
        public func pValue(thresholdNs: Double) -> Double {
            var low = 0
            var high = replicatesNs.count
            while low < high {
                let middle = (low + high) >> 1
                if replicatesNs[middle] <= thresholdNs { low = middle + 1 } else { high = middle }
            }
            return Double(1 + low) / Double(replicatesNs.count + 1)
        }

        /// Linear interpolation between order statistics (numpy's default "linear" method).
        static func quantile(_ sorted: [Double], _ q: Double) -> Double {
            let position = Double(sorted.count - 1) * q
            let below = Int(position.rounded(.down))
            let above = Swift.min(below + 1, sorted.count - 1)
            let weight = position - Double(below)
            return sorted[below] + weight * (sorted[above] - sorted[below])
        }
    }

    public let configuration: Configuration
    /// n, all pairs.
    public let pairCount: Int
    /// m, the pairs each resample draws from (n unless subsampled).
    public let resampledPairs: Int
    /// √(m/n): 1 without subsampling.
    public let intervalScale: Double
    /// One entry per requested percentile that had enough pairs, in request order.
    public let deltas: [Delta]

    /// Whether the m-out-of-n path was taken (m < n).
    public var subsampled: Bool { resampledPairs < pairCount }

    public func delta(for percentile: Percentile) -> Delta? {
        deltas.first { $0.percentile == percentile }
    }

    /// The m pairs the m-out-of-n path bootstraps: a seeded partial Fisher–Yates shuffle
    /// (generator stream `UInt64.max`, apart from every resample's stream).
    static func subsampleIndices(count n: Int, keeping m: Int, seed: UInt64) -> [Int] {
        var generator = SplitMix64Generator(seed: seed, stream: UInt64.max)
        var indices = Array(0..<n)
        for position in 0..<m {
            let pick = position + Int(generator.next(below: UInt64(n - position)))
            indices.swapAt(position, pick)
        }
        return Array(indices[..<m])
    }

    /// Contract: `baseline.count == candidate.count` (precondition); `baseline[i]` and
    /// `candidate[i]` are the same request's latencies.
    public init(baseline: [Int64], candidate: [Int64], percentiles: [Percentile],
                configuration: Configuration = .default) {
        self.init(baseline: baseline, candidate: candidate, sortedBaseline: RadixSort.sorted(baseline),
                  sortedCandidate: RadixSort.sorted(candidate), percentiles: percentiles, configuration: configuration)
    }

    /// As above, reusing both sides already sorted.
    init(baseline: [Int64], candidate: [Int64], sortedBaseline: [Int64], sortedCandidate: [Int64],
         percentiles requested: [Percentile], configuration: Configuration) {
        precondition(baseline.count == candidate.count, "bootstrap of unpaired samples")
        precondition(configuration.resamples >= 1 && configuration.maxPairs >= 1, "invalid bootstrap configuration")
        let n = baseline.count
        self.configuration = configuration
        pairCount = n
        var levels: [Percentile] = []
        for level in requested where !level.isMaximum && n > 0 && n >= level.minimumSamples && !levels.contains(level) {
            levels.append(level)
        }
        guard !levels.isEmpty else {
            resampledPairs = n
            intervalScale = 1
            deltas = []
            return
        }
        let needed = levels.map(\.minimumSamples).max() ?? 1
        let m = Swift.min(n, Swift.max(configuration.maxPairs, needed))
        precondition(m <= Int(UInt32.max), "too many pairs per resample")
        resampledPairs = m

        // The pairs to resample from: all, or a seeded subsample without replacement.
        let workBaseline: [Int64]
        let workCandidate: [Int64]
        if m < n {
            let indices = Self.subsampleIndices(count: n, keeping: m, seed: configuration.seed)
            workBaseline = indices.map { baseline[$0] }
            workCandidate = indices.map { candidate[$0] }
        } else {
            workBaseline = baseline
            workCandidate = candidate
        }
        let ranked = RankedPairs(baseline: workBaseline, candidate: workCandidate)

        let ranks = levels.map { $0.nearestRank(count: m) }
        let fullEstimates = levels.map { level in
            Percentiles.nearestRank(level, ofSorted: sortedCandidate)! - Percentiles.nearestRank(level, ofSorted: sortedBaseline)!
        }
        let workEstimates = ranks.map { rank in ranked.sortedCandidate[rank - 1] - ranked.sortedBaseline[rank - 1] }
        let scale = m < n ? (Double(m) / Double(n)).squareRoot() : 1
        intervalScale = scale

        let replicates = ranked.replicates(ranks: ranks, resamples: configuration.resamples, seed: configuration.seed)
        deltas = levels.indices.map { which in
            var values = replicates[which].map { Double($0) }
            if m < n {
                let center = Double(fullEstimates[which])
                let workCenter = Double(workEstimates[which])
                for index in values.indices { values[index] = center + scale * (values[index] - workCenter) }
            }
            values.sort()
            return Delta(percentile: levels[which], estimateNs: fullEstimates[which], replicatesNs: values)
        }
    }
}

/// The pairs to resample, with each item's rank on each side precomputed.
struct RankedPairs {
    let count: Int
    let sortedBaseline: [Int64]
    let sortedCandidate: [Int64]
    /// ranks[2i] = rank of pair i's baseline among baselines, ranks[2i+1] likewise for candidates.
    let ranks: [UInt32]

    init(baseline: [Int64], candidate: [Int64]) {
        count = baseline.count
        var ranks = [UInt32](repeating: 0, count: 2 * count)
        let baselineOrder = RadixSort.order(baseline)
        let candidateOrder = RadixSort.order(candidate)
        for (rank, index) in baselineOrder.enumerated() { ranks[2 * index] = UInt32(rank) }
        for (rank, index) in candidateOrder.enumerated() { ranks[2 * index + 1] = UInt32(rank) }
        sortedBaseline = baselineOrder.map { baseline[$0] }
        sortedCandidate = candidateOrder.map { candidate[$0] }
        self.ranks = ranks
    }

    /// For each 1-based rank in `ranks`, `resamples` replicates of
    /// (candidate order statistic − baseline order statistic) over resamples of `count` pairs.
    /// Resample b draws its `count` indices with `Self.drawIndices(seed:stream: b, ...)`.
    ///
    /// Written for speed in debug builds too (the simulation tests run thousands of bootstraps):
    /// the generator is inlined by hand, counts live in raw memory cleared with memset, and the
    /// walk to an order statistic skips whole blocks of 64 ranks.
    func replicates(ranks targets: [Int], resamples: Int, seed: UInt64) -> [[Int64]] {
        let m = count
        precondition(m > 0 && m <= Int(UInt32.max), "resample size out of range")
        var output = [[Int64]](repeating: [Int64](repeating: 0, count: resamples), count: targets.count)
        // Walk plan: targets in the lower half from the bottom (ascending), the rest from the top.
        let byRank = targets.indices.sorted { targets[$0] < targets[$1] }
        let fromBottom = byRank.filter { targets[$0] <= (m + 1) / 2 }
        let fromTop = Array(byRank.filter { targets[$0] > (m + 1) / 2 }.reversed())
        let blocks = (m + Self.blockSize - 1) / Self.blockSize
        // One allocation: baseline counts, candidate counts, baseline block sums, candidate block sums.
        let counts = UnsafeMutablePointer<UInt32>.allocate(capacity: 2 * m + 2 * blocks)
        defer { counts.deallocate() }
        let baselineCounts = counts
        let candidateCounts = counts + m
        let baselineBlocks = counts + 2 * m
        let candidateBlocks = counts + 2 * m + blocks
        let byteCount = (2 * m + 2 * blocks) * MemoryLayout<UInt32>.stride
        var baselineValue = [Int64](repeating: 0, count: targets.count)
        var candidateValue = [Int64](repeating: 0, count: targets.count)
        let bound = UInt64(m)
        let rejectBelow = (UInt64(1) << 32 - bound) % bound
        let shift = Self.blockShift  // a local: static lets cost an initialization check per use in debug builds
        ranks.withUnsafeBufferPointer { rankBuffer in
            let rankPairs = rankBuffer.baseAddress!
            for resample in 0..<resamples {
                memset(counts, 0, byteCount)
                var state = SplitMix64Generator(seed: seed, stream: UInt64(resample)).state
                var drawn = 0
                while drawn < m {
                    // One SplitMix64 output gives two 32-bit candidates (high half first); each goes
                    // through Lemire's multiply-shift with rejection.
                    state &+= 0x9E37_79B9_7F4A_7C15
                    var z = state
                    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                    z ^= z >> 31
                    var product = (z >> 32) &* bound
                    var half = 0
                    while half < 2 && drawn < m {
                        if product & 0xFFFF_FFFF >= rejectBelow {
                            let pair = Int(truncatingIfNeeded: product >> 32) &* 2
                            let baselineRank = Int(truncatingIfNeeded: rankPairs[pair])
                            let candidateRank = Int(truncatingIfNeeded: rankPairs[pair &+ 1])
                            baselineCounts[baselineRank] &+= 1
                            candidateCounts[candidateRank] &+= 1
                            baselineBlocks[baselineRank &>> shift] &+= 1
                            candidateBlocks[candidateRank &>> shift] &+= 1
                            drawn &+= 1
                        }
                        product = (z & 0xFFFF_FFFF) &* bound
                        half &+= 1
                    }
                }
                Self.walk(baselineCounts, blocks: baselineBlocks, count: m, sorted: sortedBaseline, targets: targets,
                          fromBottom: fromBottom, fromTop: fromTop, into: &baselineValue)
                Self.walk(candidateCounts, blocks: candidateBlocks, count: m, sorted: sortedCandidate, targets: targets,
                          fromBottom: fromBottom, fromTop: fromTop, into: &candidateValue)
                for which in targets.indices {
                    output[which][resample] = candidateValue[which] - baselineValue[which]
                }
            }
        }
        return output
    }

    static let blockShift = 6
    static let blockSize = 1 << blockShift

    /// The indices resample `stream` draws, written plainly: the specification `replicates`
    /// inlines (tests compare the two).
    static func drawIndices(seed: UInt64, stream: UInt64, count: Int) -> [Int] {
        var generator = SplitMix64Generator(seed: seed, stream: stream)
        let bound = UInt64(count)
        let rejectBelow = (UInt64(1) << 32 - bound) % bound
        var indices: [Int] = []
        while indices.count < count {
            let word = generator.next()
            for candidate in [word >> 32, word & 0xFFFF_FFFF] where indices.count < count {
                let product = candidate * bound
                if product & 0xFFFF_FFFF >= rejectBelow { indices.append(Int(product >> 32)) }
            }
        }
        return indices
    }

    /// The order statistics `targets[i]` (1-based) of a resample given by its per-rank draw counts
    /// and per-block sums of them.
    private static func walk(_ counts: UnsafeMutablePointer<UInt32>, blocks: UnsafeMutablePointer<UInt32>, count m: Int,
                             sorted: [Int64], targets: [Int], fromBottom: [Int], fromTop: [Int],
                             into values: inout [Int64]) {
        // Bottom: smallest r with counts[0...r] summing to >= k.
        var block = 0
        var belowBlock = 0  // draws in blocks before `block`
        for which in fromBottom {
            let k = targets[which]
            while belowBlock + Int(blocks[block]) < k {
                belowBlock += Int(blocks[block])
                block += 1
            }
            var rank = block << blockShift
            var below = belowBlock
            while below + Int(counts[rank]) < k {
                below += Int(counts[rank])
                rank += 1
            }
            values[which] = sorted[rank]
        }
        // Top: smallest r with counts[(r+1)...] summing to <= m − k.
        block = (m - 1) >> blockShift
        var aboveBlock = 0  // draws in blocks after `block`
        for which in fromTop {
            let allowed = m - targets[which]
            while aboveBlock + Int(blocks[block]) <= allowed {
                aboveBlock += Int(blocks[block])
                block -= 1
            }
            var rank = Swift.min(m - 1, ((block + 1) << blockShift) - 1)
            var above = aboveBlock
            while above + Int(counts[rank]) <= allowed {
                above += Int(counts[rank])
                rank -= 1
            }
            values[which] = sorted[rank]
        }
    }
}
