// Release-build timing of ShadowStats on 10^6 pairs (run by bench/stats/speed.sh).
import ShadowStats
#if canImport(Glibc)
import Glibc
#endif

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
    var spec = timespec()
    clock_gettime(clock, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// SplitMix64 for the synthetic latencies.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11 + 1) * 0x1p-53 }
    mutating func exponential(_ mean: Double) -> Double { -mean * log(unit()) }
}

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 1_000_000
var random = Random(state: 1)
var baseline = [Int64](repeating: 0, count: count)
var candidate = [Int64](repeating: 0, count: count)
for index in 0..<count {
    let shared = 2_000_000 + random.exponential(150_000)
    baseline[index] = Int64(shared + random.exponential(50_000))
    candidate[index] = Int64(shared + random.exponential(50_000) + (random.unit() < 0.1 ? 1_000_000 : 0))
}

func time<T>(_ label: String, repeats: Int = 3, _ body: () throws -> T) rethrows -> T {
    var best = Double.infinity
    var bestCPU = Double.infinity
    var result: T? = nil
    for _ in 0..<repeats {
        let start = now()
        let startCPU = now(CLOCK_THREAD_CPUTIME_ID)
        result = try body()
        best = min(best, now() - start)
        bestCPU = min(bestCPU, now(CLOCK_THREAD_CPUTIME_ID) - startCPU)
    }
    print("\(label): \(Int((best * 1000).rounded())) ms wall, \(Int((bestCPU * 1000).rounded())) ms CPU (best of \(repeats))")
    return result!
}

let differences = zip(candidate, baseline).map { $0 - $1 }
_ = time("standard library sort, 1 side (\(count))") { differences.sorted() }
let sortedDifferences = time("RadixSort.sorted, 1 side (\(count))") { RadixSort.sorted(differences) }
_ = time("Wilcoxon signed-rank (presorted)") { WilcoxonSignedRank(sortedDifferences: sortedDifferences) }
let hl = time("Hodges-Lehmann + 95% CI (presorted)") { HodgesLehmann(sortedDifferences: sortedDifferences) }
print("  HL estimate \(hl.estimateNs!) ns, CI [\(hl.lowNs!), \(hl.highNs!)]")
_ = time("per-request ratio summary") { LatencyRatioSummary(baseline: baseline, candidate: candidate) }
let boot = time("paired bootstrap dp50+dp99, B=1000 (sorts included)") {
    PairedBootstrap(baseline: baseline, candidate: candidate, percentiles: [.p50, .p99])
}
print("  m = \(boot.resampledPairs), scale \(boot.intervalScale)")
let analysis = try time("PairedLatencyAnalysis, defaults (everything)") {
    try PairedLatencyAnalysis(baseline: baseline, candidate: candidate)
}
for gate in analysis.gates {
    print("  \(gate.gate): estimate \(gate.estimateNs!) CI [\(gate.lowNs!), \(gate.highNs!)] threshold \(gate.thresholdNs!) p \(gate.pValue!)")
}
