import Foundation
import ShadowStats
import Testing

@Suite struct LatencyVerdictTests {
    func analysis(count: Int, seed: UInt64, slowFraction: Double = 0, slowNs: Double = 0,
                  options: PairedLatencyAnalysis.Options = .default) throws -> PairedLatencyAnalysis {
        var random = TestRandom(seed: seed)
        let (baseline, candidate) = simulatedPairs(count: count, random: &random, slowFraction: slowFraction, slowNs: slowNs)
        return try PairedLatencyAnalysis(baseline: baseline, candidate: candidate, options: options)
    }

    @Test func defaultsAreTheDocumentedGates() {
        #expect(LatencyGate.defaults.map(\.description) == ["p50 +max(5%, 500 us)", "p99 +max(5%, 1 ms)"])
        let gate = LatencyGate.defaults[1]
        #expect(gate.thresholdNs(baselineValueNs: 10_000_000) == 1_000_000)
        #expect(gate.thresholdNs(baselineValueNs: 40_000_000) == 2_000_000)
    }

    @Test func regressedEndpointIsFlaggedAndCleanOneIsNot() throws {
        let gates = [LatencyGate(percentile: .p99, relativeFraction: 0.05, absoluteNs: 500_000),
                     LatencyGate(percentile: .p50, relativeFraction: 0.05, absoluteNs: 500_000)]
        let options = PairedLatencyAnalysis.Options(gates: gates)
        let slow = try analysis(count: 2_000, seed: 1, slowFraction: 0.1, slowNs: 1_000_000, options: options)
        let clean = try analysis(count: 2_000, seed: 2, options: options)
        let small = try analysis(count: 300, seed: 3, slowFraction: 0.1, slowNs: 1_000_000, options: options)
        let overall = try analysis(count: 4_300, seed: 4, slowFraction: 0.05, slowNs: 1_000_000, options: options)
        let verdict = LatencyVerdict(overall: overall, endpoints: [("/bid slow", slow), ("/bid clean", clean), ("/small", small)])

        #expect(verdict.regressed)
        #expect(verdict.endpoints.map(\.name) == ["/bid slow", "/bid clean", "/small"])
        let slowP99 = verdict.endpoints[0].gates[0]
        #expect(slowP99.judged && slowP99.regressed && slowP99.familySize == 2)
        #expect(slowP99.adjustedPValue! >= slowP99.pValue!)
        #expect(slowP99.lowNs! > slowP99.thresholdNs!)
        #expect(slowP99.thresholdNs == 500_000)
        #expect(!verdict.endpoints[0].gates[1].regressed)  // p50 moves by ~0, far below 0.5 ms
        #expect(verdict.endpoints[0].regressed)
        #expect(!verdict.endpoints[1].regressed)

        // 300 pairs: p99 cannot be judged (needs 1000); p50 can.
        let smallP99 = verdict.endpoints[2].gates[0]
        #expect(!smallP99.judged && !smallP99.regressed && smallP99.adjustedPValue == nil)
        #expect(smallP99.reason == "p99 needs ≥ 1000 pairs (has 300)")
        #expect(verdict.endpoints[2].gates[1].judged && verdict.endpoints[2].gates[1].familySize == 3)
        #expect(verdict.overall.gates[0].familySize == 1)
        #expect(verdict.notes.isEmpty)
    }

    @Test func holmAdjustsWithinEachGateFamily() throws {
        let options = PairedLatencyAnalysis.Options(gates: [LatencyGate(percentile: .p50, relativeFraction: 0, absoluteNs: 0)],
                                                    bootstrap: .init(resamples: 200))
        let endpoints = try (0..<3).map { index in
            (name: "e\(index)", analysis: try analysis(count: 400, seed: 10 + UInt64(index), options: options))
        }
        let verdict = LatencyVerdict(overall: endpoints[0].analysis, endpoints: endpoints)
        let raw = endpoints.map { $0.analysis.gates[0].pValue! }
        let adjusted = verdict.endpoints.map { $0.gates[0].adjustedPValue! }
        #expect(adjusted == Holm.adjust(raw))
        #expect(verdict.overall.gates[0].adjustedPValue == raw[0])
    }

    @Test func notesWhenResamplesCannotReachAlpha() throws {
        let options = PairedLatencyAnalysis.Options(bootstrap: .init(resamples: 30))
        let one = try analysis(count: 200, seed: 5, options: options)
        let verdict = LatencyVerdict(overall: one, endpoints: [("a", one)])
        #expect(verdict.notes.count == 2)
        #expect(verdict.notes[0].hasPrefix("overall: 30 resamples cannot give p < 0.025; use at least 40"))
        #expect(PairedBootstrap.Configuration.minimumResamples(familySize: 30, alpha: 0.025) == 1_200)
        #expect(!verdict.regressed)
    }

    @Test func jsonFieldNames() throws {
        let result = try analysis(count: 1_200, seed: 6)
        let verdict = LatencyVerdict(overall: result, endpoints: [("/bid", result)])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(verdict), as: UTF8.self)
        for name in ["\"estimateNs\"", "\"lowNs\"", "\"highNs\"", "\"thresholdNs\"", "\"pValue\"", "\"adjustedPValue\"",
                     "\"regressed\"", "\"judged\"", "\"familySize\"", "\"percentile\":\"p99\"", "\"relativeFraction\"",
                     "\"absoluteNs\"", "\"alpha\""] {
            #expect(text.contains(name), "\(name)")
        }
        let analysisText = String(decoding: try encoder.encode(result), as: UTF8.self)
        for name in ["\"valueNs\"", "\"requiredSamples\"", "\"rankSumPositive\"", "\"pValueGreater\"", "\"pValueTwoSided\"",
                     "\"skippedZeroBaseline\"", "\"resampledPairs\"", "\"subsampled\"", "\"intervalScale\"",
                     "\"percentileDeltas\"", "\"shift\"", "\"unavailableReason\""] {
            #expect(analysisText.contains(name), "\(name)")
        }
        let decoded = try JSONDecoder().decode(LatencyVerdict.self, from: try encoder.encode(verdict))
        #expect(decoded == verdict)
        let decodedAnalysis = try JSONDecoder().decode(PairedLatencyAnalysis.self, from: try encoder.encode(result))
        #expect(decodedAnalysis == result)
    }

    @Test func emptyAndTinyInputs() throws {
        let empty = try PairedLatencyAnalysis(baseline: [], candidate: [])
        #expect(empty.pairCount == 0 && empty.gates.allSatisfy { $0.pValue == nil })
        #expect(empty.percentileDeltas.allSatisfy { $0.estimateNs == nil })
        let one = try PairedLatencyAnalysis(baseline: [1_000], candidate: [3_000])
        #expect(one.baseline.valueNs(at: .max) == 1_000 && one.baseline.valueNs(at: .p50) == nil)
        #expect(one.shift.estimateNs == 2_000 && one.wilcoxon.pValueGreater == 0.5)
        let verdict = LatencyVerdict(overall: one, endpoints: [("/x", one), ("/y", empty)])
        #expect(!verdict.regressed)
        #expect(verdict.endpoints.allSatisfy { $0.gates.allSatisfy { !$0.judged && $0.reason != nil } })
        // JSON has no NaN or infinity anywhere.
        _ = try JSONEncoder().encode(verdict)
        _ = try JSONEncoder().encode(empty)
    }
}
