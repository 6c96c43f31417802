/// Why paired latencies were refused.
public enum LatencySampleError: Error, Equatable, Sendable {
    public enum Side: String, Codable, Sendable { case baseline, candidate }
    /// `baseline[i]` and `candidate[i]` must be the same request's latencies.
    case lengthMismatch(baselineCount: Int, candidateCount: Int)
    /// |latency| must be below 2^60 ns (36 years), so that differences and their pair sums fit Int64.
    case valueOutOfRange(side: Side, index: Int, valueNs: Int64)
}

/// Δ of one percentile (candidate − baseline) with its paired-bootstrap interval; nil with the
/// reason when there are too few pairs for that percentile.
public struct PercentileDelta: Codable, Sendable, Hashable {
    public var percentile: Percentile
    public var estimateNs: Double?
    public var lowNs: Double?
    public var highNs: Double?
    public var requiredPairs: Int
    public var unavailableReason: String?
}

/// One gate's evidence for one endpoint: estimate, interval, threshold and one-sided p-value for
/// H0: Δ <= threshold. `pValue` is nil when the gate cannot be judged (`unavailableReason` says why).
public struct GateEstimate: Codable, Sendable, Hashable {
    public var gate: LatencyGate
    /// The baseline's percentile on all pairs (the base of the relative threshold).
    public var baselineValueNs: Int64?
    public var thresholdNs: Double?
    public var estimateNs: Double?
    public var lowNs: Double?
    public var highNs: Double?
    public var pValue: Double?
    public var unavailableReason: String?
}

/// How the bootstrap ran, for the report.
public struct BootstrapSummary: Codable, Sendable, Hashable {
    public var resamples: Int
    public var seed: UInt64
    public var confidenceLevel: Double
    /// Pairs each resample drew from (all pairs unless subsampled).
    public var resampledPairs: Int
    /// True when more than `maxPairs` pairs made it bootstrap a subsample and rescale by √(m/n).
    public var subsampled: Bool
    /// √(m/n), 1 when not subsampled.
    public var intervalScale: Double
}

/// Everything ShadowStats says about one endpoint's paired latencies (`baseline[i]`, `candidate[i]`
/// in ns for the same request i): per-side percentiles, per-request ratio, Wilcoxon signed-rank
/// test and Hodges–Lehmann shift on d = candidate − baseline, bootstrap intervals of percentile
/// differences, and the evidence for each latency gate. Judge several of them together with
/// `LatencyVerdict`.
public struct PairedLatencyAnalysis: Codable, Sendable, Hashable {
    public struct Options: Codable, Sendable, Hashable {
        public var gates: [LatencyGate]
        /// Levels reported per side.
        public var reportedPercentiles: [Percentile]
        /// Levels whose difference gets a bootstrap interval (gate levels are added).
        public var deltaPercentiles: [Percentile]
        public var bootstrap: PairedBootstrap.Configuration
        public var wilcoxonMethod: WilcoxonSignedRank.Method

        public init(gates: [LatencyGate] = LatencyGate.defaults,
                    reportedPercentiles: [Percentile] = Percentile.reported,
                    deltaPercentiles: [Percentile] = [.p50, .p99],
                    bootstrap: PairedBootstrap.Configuration = .default,
                    wilcoxonMethod: WilcoxonSignedRank.Method = .auto) {
            self.gates = gates
            self.reportedPercentiles = reportedPercentiles
            self.deltaPercentiles = deltaPercentiles
            self.bootstrap = bootstrap
            self.wilcoxonMethod = wilcoxonMethod
        }

        public static let `default` = Options()
    }

    public var pairCount: Int
    public var baseline: LatencySummary
    public var candidate: LatencySummary
    public var ratio: LatencyRatioSummary
    public var wilcoxon: WilcoxonSignedRank
    /// Hodges–Lehmann shift of d with its interval at the bootstrap's confidence level.
    public var shift: HodgesLehmann
    public var percentileDeltas: [PercentileDelta]
    public var gates: [GateEstimate]
    public var bootstrap: BootstrapSummary

    /// Analyzes one endpoint. Throws when the sides differ in length or a value is out of range
    /// (|v| >= 2^60). Pure: the same inputs and options give the same result, bit for bit.
    /// Cost: radix sorts of n values, O(n) passes, and the bootstrap (see `PairedBootstrap`): about
    /// 0.75 s of CPU for 10^6 pairs with the defaults in a release build (bench/stats/speed.sh).
    public init(baseline: [Int64], candidate: [Int64], options: Options = .default) throws(LatencySampleError) {
        guard baseline.count == candidate.count else {
            throw .lengthMismatch(baselineCount: baseline.count, candidateCount: candidate.count)
        }
        let limit: Int64 = 1 << 60
        for (index, value) in baseline.enumerated() where value >= limit || value <= -limit {
            throw .valueOutOfRange(side: .baseline, index: index, valueNs: value)
        }
        for (index, value) in candidate.enumerated() where value >= limit || value <= -limit {
            throw .valueOutOfRange(side: .candidate, index: index, valueNs: value)
        }
        let n = baseline.count
        pairCount = n
        let sortedBaseline = RadixSort.sorted(baseline)
        let sortedCandidate = RadixSort.sorted(candidate)
        var differences = [Int64](repeating: 0, count: n)
        for index in 0..<n { differences[index] = candidate[index] - baseline[index] }
        differences = RadixSort.sorted(differences)

        self.baseline = LatencySummary(sorted: sortedBaseline, percentiles: options.reportedPercentiles)
        self.candidate = LatencySummary(sorted: sortedCandidate, percentiles: options.reportedPercentiles)
        ratio = LatencyRatioSummary(baseline: baseline, candidate: candidate)
        wilcoxon = WilcoxonSignedRank(sortedDifferences: differences, method: options.wilcoxonMethod)
        shift = HodgesLehmann(sortedDifferences: differences, confidenceLevel: options.bootstrap.confidenceLevel)

        var deltaLevels: [Percentile] = []
        for level in options.deltaPercentiles + options.gates.map(\.percentile) where !deltaLevels.contains(level) {
            deltaLevels.append(level)
        }
        let configuration = options.bootstrap
        let bootstrapRun = PairedBootstrap(baseline: baseline, candidate: candidate, sortedBaseline: sortedBaseline,
                                           sortedCandidate: sortedCandidate, percentiles: deltaLevels,
                                           configuration: configuration)
        bootstrap = BootstrapSummary(
            resamples: configuration.resamples, seed: configuration.seed, confidenceLevel: configuration.confidenceLevel,
            resampledPairs: bootstrapRun.resampledPairs, subsampled: bootstrapRun.subsampled,
            intervalScale: bootstrapRun.intervalScale
        )

        func reasonWithout(_ level: Percentile) -> String {
            if level.isMaximum { return "the maximum has no bootstrap interval" }
            return Percentiles.unavailableReason(level, count: n, noun: "pairs") ?? "no interval"
        }

        percentileDeltas = deltaLevels.map { level in
            guard let delta = bootstrapRun.delta(for: level) else {
                return PercentileDelta(percentile: level, estimateNs: nil, lowNs: nil, highNs: nil,
                                       requiredPairs: level.minimumSamples, unavailableReason: reasonWithout(level))
            }
            let interval = delta.interval(confidenceLevel: configuration.confidenceLevel)
            return PercentileDelta(percentile: level, estimateNs: Double(delta.estimateNs), lowNs: interval.lowNs,
                                   highNs: interval.highNs, requiredPairs: level.minimumSamples, unavailableReason: nil)
        }

        gates = options.gates.map { gate in
            guard let delta = bootstrapRun.delta(for: gate.percentile),
                  let base = Percentiles.nearestRank(gate.percentile, ofSorted: sortedBaseline) else {
                return GateEstimate(gate: gate, baselineValueNs: nil, thresholdNs: nil, estimateNs: nil, lowNs: nil,
                                    highNs: nil, pValue: nil, unavailableReason: reasonWithout(gate.percentile))
            }
            let threshold = gate.thresholdNs(baselineValueNs: base)
            let interval = delta.interval(confidenceLevel: configuration.confidenceLevel)
            return GateEstimate(gate: gate, baselineValueNs: base, thresholdNs: threshold,
                                estimateNs: Double(delta.estimateNs), lowNs: interval.lowNs, highNs: interval.highNs,
                                pValue: delta.pValue(thresholdNs: threshold), unavailableReason: nil)
        }
    }

    /// The delta at `level`, if it was requested.
    public func percentileDelta(at level: Percentile) -> PercentileDelta? {
        percentileDeltas.first { $0.percentile == level }
    }
}
