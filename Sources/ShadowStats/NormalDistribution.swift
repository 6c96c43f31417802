#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The standard normal distribution, from the C library's `erfc` (accurate in both tails).
public enum StandardNormal {
    /// P(Z <= x).
    public static func cdf(_ x: Double) -> Double {
        0.5 * erfc(-x * 0.5.squareRoot())
    }

    /// P(Z >= x), computed directly (no `1 - cdf` cancellation): 1e-300 stays 1e-300.
    public static func survival(_ x: Double) -> Double {
        0.5 * erfc(x * 0.5.squareRoot())
    }

    /// The x with P(Z <= x) = p, for 0 < p < 1 (bisection on `cdf`, then it is exact to a few ulps;
    /// used for critical values, not on hot paths). Returns -inf / +inf for p <= 0 / p >= 1.
    public static func quantile(_ p: Double) -> Double {
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        if p > 0.5 { return -quantile(1 - p) }
        // Lower half: search x in [-40, 0] where cdf is accurate (erfc of a positive argument).
        var low = -40.0
        var high = 0.0
        for _ in 0..<200 {
            let middle = 0.5 * (low + high)
            if middle == low || middle == high { break }
            if cdf(middle) < p { low = middle } else { high = middle }
        }
        return abs(cdf(low) - p) <= abs(cdf(high) - p) ? low : high
    }
}
