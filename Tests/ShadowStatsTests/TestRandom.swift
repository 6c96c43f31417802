import Foundation
import ShadowCore

/// Seeded test data (ShadowCore's SplitMix64), independent of the generator inside ShadowStats.
struct TestRandom: RandomNumberGenerator {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in (0, 1].
    mutating func unit() -> Double {
        Double(next() >> 11 + 1) * 0x1p-53
    }

    mutating func normal() -> Double {
        (-2 * log(unit())).squareRoot() * cos(2 * Double.pi * unit())
    }

    mutating func exponential(mean: Double) -> Double {
        -mean * log(unit())
    }

    mutating func logNormal(median: Double, sigma: Double) -> Double {
        median * exp(sigma * normal())
    }

    /// Gamma with shape 2: the sum of two exponentials.
    mutating func gamma2(mean: Double) -> Double {
        exponential(mean: mean / 2) + exponential(mean: mean / 2)
    }

    mutating func bernoulli(_ p: Double) -> Bool {
        unit() <= p
    }

    mutating func integer(in range: ClosedRange<Int64>) -> Int64 {
        Int64.random(in: range, using: &self)
    }
}

/// The latency model of the simulations: per request, 2 ms + shared work (log-normal, median
/// 150 µs, σ 0.4) on both sides, plus independent per-side jitter (gamma, mean 50 µs) and a
/// 0.2 % per-side tail (exponential, mean 2 ms). Optionally +`slowNs` on a random
/// `slowFraction` of candidate requests.
func simulatedPairs(count: Int, random: inout TestRandom, slowFraction: Double = 0, slowNs: Double = 0)
    -> (baseline: [Int64], candidate: [Int64]) {
    var baseline = [Int64](repeating: 0, count: count)
    var candidate = [Int64](repeating: 0, count: count)
    func side(_ shared: Double, _ random: inout TestRandom) -> Double {
        var value = shared + random.gamma2(mean: 50_000)
        if random.bernoulli(0.002) { value += random.exponential(mean: 2_000_000) }
        return value
    }
    for index in 0..<count {
        let shared = 2_000_000 + random.logNormal(median: 150_000, sigma: 0.4)
        baseline[index] = Int64(side(shared, &random).rounded())
        var slow = side(shared, &random)
        if slowFraction > 0, random.bernoulli(slowFraction) { slow += slowNs }
        candidate[index] = Int64(slow.rounded())
    }
    return (baseline, candidate)
}
