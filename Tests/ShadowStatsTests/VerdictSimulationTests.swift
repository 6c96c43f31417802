import ShadowStats
import Testing

/// Does the verdict say "regressed" when it should, and only then? 200 seeded simulated runs of
/// 2,000 pairs each, latency model in `simulatedPairs` (2 ms + shared log-normal work + per-side
/// gamma jitter + a 0.2 % per-side exponential tail), default options (1000 resamples).
/// The observed figures are recorded in the doc comment of `LatencyVerdict`.
@Suite struct VerdictSimulationTests {
    static let runs = 200
    static let pairs = 2_000

    /// Runs `runs` simulations and counts, per gate, how often the overall verdict regressed.
    func regressionCounts(seed: UInt64, slowFraction: Double, slowNs: Double,
                          options: PairedLatencyAnalysis.Options) throws -> (perGate: [Int], any: Int) {
        var perGate = [Int](repeating: 0, count: options.gates.count)
        var any = 0
        for run in 0..<Self.runs {
            var random = TestRandom(seed: seed &+ UInt64(run) &* 0x9E37_79B9)
            let (baseline, candidate) = simulatedPairs(count: Self.pairs, random: &random,
                                                       slowFraction: slowFraction, slowNs: slowNs)
            var runOptions = options
            runOptions.bootstrap.seed = UInt64(run)
            let analysis = try PairedLatencyAnalysis(baseline: baseline, candidate: candidate, options: runOptions)
            let verdict = LatencyVerdict(overall: analysis, endpoints: [])
            for (index, gate) in verdict.overall.gates.enumerated() where gate.regressed { perGate[index] += 1 }
            if verdict.regressed { any += 1 }
        }
        return (perGate, any)
    }

    /// A/A with the default gates: observed 0 of 200 runs regressed (0 %); must be <= 5 %.
    @Test func aaRunsRarelyRegress() throws {
        let counts = try regressionCounts(seed: 1_000, slowFraction: 0, slowNs: 0, options: .default)
        print("A/A, default gates: \(counts.any) of \(Self.runs) runs regressed; per gate \(counts.perGate)")
        #expect(counts.any <= Self.runs / 20)
    }

    /// A/A with zero thresholds: nothing but the p-value's calibration stands between noise and a
    /// verdict. Observed p50 3 and p99 7 of 200 runs (1.5 %, 3.5 %) at one-sided α = 2.5 %; must
    /// be <= 5 % per gate (the bootstrap of a percentile is only approximately calibrated at
    /// n = 2,000).
    @Test func aaRunsRarelyRegressEvenWithZeroThresholds() throws {
        let options = PairedLatencyAnalysis.Options(gates: [
            LatencyGate(percentile: .p50, relativeFraction: 0, absoluteNs: 0),
            LatencyGate(percentile: .p99, relativeFraction: 0, absoluteNs: 0),
        ])
        let counts = try regressionCounts(seed: 2_000, slowFraction: 0, slowNs: 0, options: options)
        print("A/A, zero thresholds: per gate \(counts.perGate) of \(Self.runs) runs regressed")
        #expect(counts.perGate.allSatisfy { $0 <= Self.runs / 20 })
    }

    /// +1 ms on a random 10 % of candidate requests moves p99 by ≈ 0.86 ms (p50 by ~0): with a
    /// 0.5 ms absolute p99 threshold, observed 200 of 200 runs regressed; must be >= 95 %.
    @Test func injectedTailSlowdownIsDetected() throws {
        let options = PairedLatencyAnalysis.Options(gates: [
            LatencyGate(percentile: .p99, relativeFraction: 0.05, absoluteNs: 500_000),
        ])
        let counts = try regressionCounts(seed: 3_000, slowFraction: 0.1, slowNs: 1_000_000, options: options)
        print("+1 ms on 10%: p99 regressed in \(counts.perGate[0]) of \(Self.runs) runs")
        #expect(counts.perGate[0] * 100 >= Self.runs * 95)
    }
}
