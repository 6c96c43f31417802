import Foundation
import ShadowStats
import Testing

/// Does the verdict say "regressed" when it should, and only then? 200 seeded simulated runs of
/// 2,000 pairs each, latency model in `simulatedPairs` (2 ms + shared log-normal work + per-side
/// gamma jitter + a 0.2 % per-side exponential tail), default bootstrap (1000 resamples).
/// The observed figures are recorded in the doc comment of `LatencyVerdict`.
@Suite struct VerdictSimulationTests {
    static let runs = 200
    static let pairs = 2_000

    /// Runs the simulations (split over the available cores; each run is seeded by its index, so
    /// the result does not depend on scheduling) and counts, per gate, the runs whose overall
    /// verdict regressed on that gate.
    func regressionCounts(seed: UInt64, slowFraction: Double, slowNs: Double,
                          options: PairedLatencyAnalysis.Options) async throws -> [Int] {
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
        return try await withThrowingTaskGroup(of: [Int].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var counts = [Int](repeating: 0, count: options.gates.count)
                    for run in stride(from: worker, to: Self.runs, by: workers) {
                        var random = TestRandom(seed: seed &+ UInt64(run) &* 0x9E37_79B9)
                        let (baseline, candidate) = simulatedPairs(count: Self.pairs, random: &random,
                                                                   slowFraction: slowFraction, slowNs: slowNs)
                        var runOptions = options
                        runOptions.bootstrap.seed = UInt64(run)
                        let analysis = try PairedLatencyAnalysis(baseline: baseline, candidate: candidate,
                                                                 options: runOptions)
                        let verdict = LatencyVerdict(overall: analysis, endpoints: [])
                        for (index, gate) in verdict.overall.gates.enumerated() where gate.regressed {
                            counts[index] += 1
                        }
                    }
                    return counts
                }
            }
            var total = [Int](repeating: 0, count: options.gates.count)
            for try await counts in group {
                for index in total.indices { total[index] += counts[index] }
            }
            return total
        }
    }

    /// A/A: both sides from the same distribution. With the default gates (p50 max(5 %, 0.5 ms),
    /// p99 max(5 %, 1 ms)) a false verdict must stay <= 5 % of runs; observed 0 of 200.
    /// The same runs are also judged with zero thresholds, where nothing but the bootstrap
    /// p-value's calibration protects (α = 2.5 % one-sided): observed p50 4 and p99 2 of 200
    /// (2.0 %, 1.0 %); must stay <= 5 % per gate.
    /// Cost: 200 × 1000 resamples × 2000 pairs = 4·10^8 bootstrap draws, about 8 s of CPU in a
    /// debug build (the two tests run side by side on the two cores).
    @Test func aaRunsRarelyRegress() async throws {
        let options = PairedLatencyAnalysis.Options(gates: LatencyGate.defaults + [
            LatencyGate(percentile: .p50, relativeFraction: 0, absoluteNs: 0),
            LatencyGate(percentile: .p99, relativeFraction: 0, absoluteNs: 0),
        ])
        let counts = try await regressionCounts(seed: 1_000, slowFraction: 0, slowNs: 0, options: options)
        print("A/A, \(Self.runs) runs: default gates regressed \(counts[0]) (p50), \(counts[1]) (p99); "
              + "zero thresholds \(counts[2]) (p50), \(counts[3]) (p99)")
        #expect(counts[0] + counts[1] <= Self.runs / 20)
        #expect(counts[2] <= Self.runs / 20)
        #expect(counts[3] <= Self.runs / 20)
    }

    /// +1 ms on a random 10 % of candidate requests moves p99 by ≈ 0.86 ms (p50 by ~0.01 ms):
    /// with a 0.5 ms absolute p99 threshold it must be declared a p99 regression in >= 95 % of
    /// runs; observed 200 of 200. The default p50 gate must not fire: observed 0 of 200.
    @Test func injectedTailSlowdownIsDetected() async throws {
        let options = PairedLatencyAnalysis.Options(gates: [
            LatencyGate(percentile: .p99, relativeFraction: 0.05, absoluteNs: 500_000),
            LatencyGate.defaults[0],
        ])
        let counts = try await regressionCounts(seed: 3_000, slowFraction: 0.1, slowNs: 1_000_000, options: options)
        print("+1 ms on 10%, \(Self.runs) runs: p99 regressed \(counts[0]), p50 regressed \(counts[1])")
        #expect(counts[0] * 100 >= Self.runs * 95)
        #expect(counts[1] <= Self.runs / 20)
    }
}
