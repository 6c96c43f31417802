/// One gate judged for one endpoint (or for all traffic).
public struct GateVerdict: Codable, Sendable, Hashable {
    public var gate: LatencyGate
    /// False when the gate could not be judged (too few pairs for its percentile); `reason` says why
    /// and `regressed` is false.
    public var judged: Bool
    public var reason: String?
    public var baselineValueNs: Int64?
    public var estimateNs: Double?
    public var lowNs: Double?
    public var highNs: Double?
    public var thresholdNs: Double?
    /// One-sided bootstrap p-value for H0: Δ <= threshold.
    public var pValue: Double?
    /// Holm-adjusted over `familySize` hypotheses (the endpoints judged for this gate); equals
    /// `pValue` for the overall verdict.
    public var adjustedPValue: Double?
    public var familySize: Int
    /// adjustedPValue < alpha and lowNs > thresholdNs.
    public var regressed: Bool
}

/// The verdict for one endpoint (or, as `LatencyVerdict.overall`, for all traffic).
public struct EndpointLatencyVerdict: Codable, Sendable, Hashable {
    public var name: String
    public var pairCount: Int
    /// True when any gate regressed.
    public var regressed: Bool
    public var gates: [GateVerdict]
}

/// The latency verdict over all traffic and each endpoint.
///
/// Rule: a gate regresses only when its evidence is strong at the multiplicity-adjusted level:
/// the adjusted one-sided bootstrap p-value for H0: Δ <= threshold is below `alpha` (0.025,
/// the one-sided counterpart of a two-sided 95 % interval) and the interval's lower bound exceeds
/// the threshold (threshold = max(relative × baseline percentile, absolute)). The overall result is
/// judged on its own at `alpha`; for each gate, the endpoints judged for that gate form one Holm
/// family (Holm 1979), so the chance that any endpoint falsely regresses on that gate is at most
/// `alpha` (as far as the bootstrap p-values are calibrated; see below). Because the overall result
/// is a separate test, `regressed` (overall or any endpoint) can be false-positive with up to
/// 2·alpha per gate. Gates whose percentile lacks pairs are not judged and say so; they do not
/// enter the family. A bootstrap p-value is at least 1/(B+1), so Holm over k endpoints needs B + 1 > k/alpha
/// resamples to reject anything; `notes` says when that is not the case.
///
/// Honesty, measured by simulation (ShadowStatsTests/VerdictSimulationTests; default bootstrap:
/// 1000 resamples, 95 % intervals, α = 0.025): 200 seeded runs of 2,000 pairs each, latency per
/// request = 2 ms + shared work (log-normal, median 150 µs, σ 0.4) + independent per-side jitter
/// (gamma, shape 2, mean 50 µs) + a 0.2 % per-side tail (exponential, mean 2 ms):
/// - A/A (both sides from that distribution), default gates p50 max(5 %, 0.5 ms) and
///   p99 max(5 %, 1 ms): 0 of 200 runs regressed (0 %).
/// - The same A/A runs with both thresholds at 0 ns, where only the p-value's calibration stands
///   between noise and a verdict: p50 regressed in 4 of 200 runs (2.0 %), p99 in 2 of 200 (1.0 %),
///   against a nominal 2.5 %.
/// - +1 ms on a random 10 % of candidate requests (true Δp99 ≈ 0.86 ms, Δp50 ≈ 0.01 ms): declared
///   a p99 regression at max(5 %, 0.5 ms) in 200 of 200 runs (100 %); the default p50 gate fired in
///   0 of 200.
public struct LatencyVerdict: Codable, Sendable, Hashable {
    public static let defaultAlpha = 0.025

    /// One-sided level of every test.
    public var alpha: Double
    /// True when the overall result or any endpoint regressed.
    public var regressed: Bool
    public var overall: EndpointLatencyVerdict
    public var endpoints: [EndpointLatencyVerdict]
    /// Caveats, e.g. too few resamples for the number of endpoints.
    public var notes: [String]

    /// Judges `overall` and `endpoints` (in the given order; names are labels only).
    /// Contract: 0 < alpha < 0.5.
    public init(overall: PairedLatencyAnalysis, endpoints: [(name: String, analysis: PairedLatencyAnalysis)],
                alpha: Double = LatencyVerdict.defaultAlpha) {
        precondition(alpha > 0 && alpha < 0.5, "alpha must be in (0, 0.5)")
        self.alpha = alpha
        var notes: [String] = []

        func judge(_ estimate: GateEstimate, adjusted: Double?, familySize: Int) -> GateVerdict {
            guard let pValue = estimate.pValue, let adjusted, let low = estimate.lowNs,
                  let threshold = estimate.thresholdNs else {
                return GateVerdict(gate: estimate.gate, judged: false,
                                   reason: estimate.unavailableReason ?? "not judged",
                                   baselineValueNs: estimate.baselineValueNs, estimateNs: estimate.estimateNs,
                                   lowNs: estimate.lowNs, highNs: estimate.highNs, thresholdNs: estimate.thresholdNs,
                                   pValue: estimate.pValue, adjustedPValue: nil, familySize: familySize,
                                   regressed: false)
            }
            return GateVerdict(gate: estimate.gate, judged: true, reason: nil,
                               baselineValueNs: estimate.baselineValueNs, estimateNs: estimate.estimateNs,
                               lowNs: low, highNs: estimate.highNs, thresholdNs: threshold, pValue: pValue,
                               adjustedPValue: adjusted, familySize: familySize,
                               regressed: adjusted < alpha && low > threshold)
        }

        func noteLevel(_ analysis: PairedLatencyAnalysis, name: String) {
            let level = analysis.bootstrap.confidenceLevel
            if abs((1 - level) / 2 - alpha) > 1e-12 {
                notes.append("\(name): intervals are \(percentText(level)) two-sided while alpha is \(alpha) one-sided; "
                             + "the lower bound and the p-value test different levels")
            }
        }

        // Overall: its own family of one per gate.
        let overallGates = overall.gates.map { judge($0, adjusted: $0.pValue, familySize: 1) }
        let overallVerdict = EndpointLatencyVerdict(name: "overall", pairCount: overall.pairCount,
                                                    regressed: overallGates.contains(where: \.regressed),
                                                    gates: overallGates)
        noteLevel(overall, name: "overall")
        if overall.gates.contains(where: { $0.pValue != nil }),
           1 / Double(overall.bootstrap.resamples + 1) >= alpha {
            notes.append("overall: \(overall.bootstrap.resamples) resamples cannot give p < \(alpha); "
                         + "use at least \(PairedBootstrap.Configuration.minimumResamples(familySize: 1, alpha: alpha))")
        }

        // Endpoints: one Holm family per distinct gate.
        var adjustedByEndpoint = [[Double?]](repeating: [], count: endpoints.count)
        var familyByEndpoint = [[Int]](repeating: [], count: endpoints.count)
        for (index, endpoint) in endpoints.enumerated() {
            adjustedByEndpoint[index] = Array(repeating: nil, count: endpoint.analysis.gates.count)
            familyByEndpoint[index] = Array(repeating: 0, count: endpoint.analysis.gates.count)
        }
        var seenGates: [LatencyGate] = []
        for endpoint in endpoints {
            for estimate in endpoint.analysis.gates where !seenGates.contains(estimate.gate) {
                seenGates.append(estimate.gate)
            }
        }
        for gate in seenGates {
            var members: [(endpoint: Int, gate: Int, pValue: Double)] = []
            var fewestResamples = Int.max
            for (endpointIndex, endpoint) in endpoints.enumerated() {
                for (gateIndex, estimate) in endpoint.analysis.gates.enumerated() where estimate.gate == gate {
                    guard let pValue = estimate.pValue else { continue }
                    members.append((endpointIndex, gateIndex, pValue))
                    fewestResamples = Swift.min(fewestResamples, endpoint.analysis.bootstrap.resamples)
                }
            }
            let adjusted = Holm.adjust(members.map(\.pValue))
            for (member, value) in zip(members, adjusted) {
                adjustedByEndpoint[member.endpoint][member.gate] = value
                familyByEndpoint[member.endpoint][member.gate] = members.count
            }
            if !members.isEmpty, Double(members.count) / Double(fewestResamples + 1) >= alpha {
                let needed = PairedBootstrap.Configuration.minimumResamples(familySize: members.count, alpha: alpha)
                notes.append("\(gate): with \(members.count) endpoints and \(fewestResamples) resamples no endpoint can "
                             + "reach an adjusted p < \(alpha); use at least \(needed) resamples")
            }
        }
        let endpointVerdicts = endpoints.enumerated().map { index, endpoint in
            let gates = endpoint.analysis.gates.enumerated().map { gateIndex, estimate in
                judge(estimate, adjusted: adjustedByEndpoint[index][gateIndex],
                      familySize: familyByEndpoint[index][gateIndex])
            }
            noteLevel(endpoint.analysis, name: endpoint.name)
            return EndpointLatencyVerdict(name: endpoint.name, pairCount: endpoint.analysis.pairCount,
                                          regressed: gates.contains(where: \.regressed), gates: gates)
        }

        self.overall = overallVerdict
        self.endpoints = endpointVerdicts
        regressed = overallVerdict.regressed || endpointVerdicts.contains(where: \.regressed)
        self.notes = notes
    }
}
