import Foundation

/// The difference of two proportions measured on the same pairs (each request answered by both
/// sides: did the candidate fail, did the baseline fail), with a confidence interval.
///
/// The interval is Newcombe's method 10 (Newcombe 1998, "Improved confidence intervals for the
/// difference between binomial proportions based on paired data", Statistics in Medicine 17):
/// Wilson score intervals of the two marginal proportions, combined with the pairs' phi
/// correlation. Unlike the Wald interval it stays inside [-1, 1], is not degenerate with zero
/// counts (0 of 1,000 failures on both sides gives about [-0.38%, +0.38%]), and keeps close to its
/// nominal coverage for rare events, which errors are.
public struct PairedProportionDifference: Sendable, Codable, Hashable {
    /// Pairs where both sides had the event (both failed).
    public var both: Int64
    /// Pairs where only the first side had it (the candidate failed, the baseline answered).
    public var firstOnly: Int64
    /// Pairs where only the second side had it.
    public var secondOnly: Int64
    public var pairs: Int64

    public init(both: Int64, firstOnly: Int64, secondOnly: Int64, pairs: Int64) {
        precondition(both >= 0 && firstOnly >= 0 && secondOnly >= 0 && both + firstOnly + secondOnly <= pairs)
        self.both = both
        self.firstOnly = firstOnly
        self.secondOnly = secondOnly
        self.pairs = pairs
    }

    public var firstRate: Double { rate(both + firstOnly) }
    public var secondRate: Double { rate(both + secondOnly) }
    /// First rate minus second rate.
    public var estimate: Double { rate(firstOnly - secondOnly) }

    private func rate(_ count: Int64) -> Double { pairs == 0 ? 0 : Double(count) / Double(pairs) }

    /// The two-sided interval at normal quantile `z` (1.96: 95%, whose lower bound is a one-sided
    /// 97.5% bound). Without pairs, (-1, 1).
    public func interval(z: Double = StandardNormal.quantile(0.975)) -> (low: Double, high: Double) {
        guard pairs > 0 else { return (-1, 1) }
        let n = Double(pairs)
        let p1 = firstRate, p2 = secondRate
        let (l1, u1) = Self.wilson(Double(both + firstOnly), n, z)
        let (l2, u2) = Self.wilson(Double(both + secondOnly), n, z)
        let a = Double(both), b = Double(firstOnly), c = Double(secondOnly), d = n - a - b - c
        let product = (a + b) * (c + d) * (a + c) * (b + d)
        let phi = product > 0 ? (a * d - b * c) / product.squareRoot() : 0
        let below = ((p1 - l1) * (p1 - l1) - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) * (u2 - p2))
        let above = ((u1 - p1) * (u1 - p1) - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) * (p2 - l2))
        let theta = p1 - p2
        return (max(-1, theta - max(0, below).squareRoot()), min(1, theta + max(0, above).squareRoot()))
    }

    /// Wilson's score interval for `x` events in `n` trials.
    static func wilson(_ x: Double, _ n: Double, _ z: Double) -> (Double, Double) {
        let z2 = z * z
        let center = (x + z2 / 2) / (n + z2)
        let half = z * (x * (n - x) / n + z2 / 4).squareRoot() / (n + z2)
        return (max(0, center - half), min(1, center + half))
    }
}
