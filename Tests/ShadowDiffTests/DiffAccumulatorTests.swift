import ShadowCore
import Testing

@testable import ShadowDiff

private let request = RecordedRequest(method: "GET", target: "/items/42?x=1", headers: [], body: [])

private func result(_ side: Side, _ body: String, status: Int = 200, latencyMs: Double = 1) -> SideResult {
    SideResult(exchangeID: 0, side: side, response: RecordedResponse(status: status, headers: [], body: Array(body.utf8)),
               firstByteNs: 1, latencyNs: Int64(latencyMs * 1e6))
}

@Suite struct DiffAccumulatorTests {
    /// 1,000 pairs. `/token` differs on every pair between any two instances (noise); `/price`
    /// differs only on the candidate, on every 10th pair; `/flaky` differs on 20% of baseline–
    /// secondary pairs and 21% of baseline–candidate pairs (within noise by the relative threshold).
    func noisyRun(secondary: Bool) -> DiffSummary {
        var accumulator = DiffAccumulator(rules: DiffRules())
        for i in 0..<1_000 {
            func body(_ token: String, price: Int, flaky: Bool) -> String {
                #"{"token":"\#(token)","price":\#(price),"flaky":\#(flaky)}"#
            }
            var results: [Side: SideResult] = [
                .baseline: result(.baseline, body("b\(i)", price: 1, flaky: false)),
                .candidate: result(.candidate, body("c\(i)", price: i % 10 == 0 ? 2 : 1, flaky: i % 100 < 21)),
            ]
            if secondary { results[.secondary] = result(.secondary, body("s\(i)", price: 1, flaky: i % 100 < 20)) }
            accumulator.add(exchangeID: Int64(i + 1), request: request, results: results)
        }
        return accumulator.finish()
    }

    @Test func withoutASecondaryEveryDifferenceCounts() {
        let s = noisyRun(secondary: false)
        #expect(s.pairs == 1_000 && s.mismatched == 1_000 && s.noisePairs == 0)
        #expect(Set(s.groups.map(\.field)) == ["/token", "/price", "/flaky"])
        #expect(s.groups.allSatisfy { $0.noiseRate == nil })
        #expect(s.groups[0].endpoint == "GET /items/{n}")
    }

    @Test func noiseMeasuredOnTheSecondaryIsSetAside() {
        let s = noisyRun(secondary: true)
        #expect(s.noisePairs == 1_000)
        #expect(s.groups.map(\.field) == ["/price"])
        #expect(s.groups[0].exchanges == 100 && s.groups[0].rate == 0.1 && s.groups[0].noiseRate == 0)
        #expect(s.groups[0].examples.first?.values == ["baseline": "1", "candidate": "2"])
        #expect(Set(s.noisyGroups.map(\.field)) == ["/token", "/flaky"])
        #expect(s.noisyGroups.first { $0.field == "/flaky" }?.noiseRate == 0.2)
        #expect(Set(s.noise.map(\.field)) == ["/token", "/flaky"])
        // Only pairs with a difference beyond noise are mismatched, however many noisy ones they had.
        #expect(s.mismatched == 100 && s.matched == 900)
        #expect(s.kinds.map(\.kind) == [.field] && s.kinds[0].exchanges == 100)
    }

    @Test func thresholdsAreConfigurable() {
        var rules = DiffRules()
        rules.noise.relative = 0
        rules.noise.absolute = 0
        var accumulator = DiffAccumulator(rules: rules)
        for i in 0..<100 {
            accumulator.add(exchangeID: Int64(i + 1), request: request, results: [
                .baseline: result(.baseline, #"{"f":0}"#),
                .candidate: result(.candidate, #"{"f":\#(i < 21 ? 1 : 0)}"#),
                .secondary: result(.secondary, #"{"f":\#(i < 20 ? 1 : 0)}"#),
            ])
        }
        #expect(accumulator.finish().groups.map(\.field) == ["/f"])
    }

    @Test func productionIsComparedWithTheBaselineSeparately() {
        var accumulator = DiffAccumulator(rules: DiffRules())
        for i in 0..<10 {
            let production = RecordedResponse(status: i < 3 ? 500 : 200, headers: [], body: Array(#"{"a":1}"#.utf8))
            accumulator.add(
                exchangeID: Int64(i + 1), request: request, production: (production, failure: nil),
                results: [.baseline: result(.baseline, #"{"a":1}"#), .candidate: result(.candidate, #"{"a":1}"#)])
        }
        accumulator.add(exchangeID: 11, request: request, production: (nil, failure: nil),
                        results: [.baseline: result(.baseline, "{}"), .candidate: result(.candidate, "{}")])
        let s = accumulator.finish()
        #expect(s.mismatched == 0 && s.pairs == 11)
        #expect(s.production?.pairs == 10 && s.production?.mismatched == 3)
        #expect(s.production?.groups.first?.field == "status")
        #expect(s.production?.groups.first?.examples.first?.values == ["production": "500", "baseline": "200"])
    }

    @Test func incompleteErrorsAndUnparsableBodiesAreCounted() {
        var accumulator = DiffAccumulator(rules: DiffRules())
        accumulator.add(exchangeID: 1, request: request, results: [.baseline: result(.baseline, "{}")])
        var failed = result(.candidate, "")
        failed.response = nil
        failed.error = .timeout
        accumulator.add(exchangeID: 2, request: request, results: [.baseline: result(.baseline, "{}"), .candidate: failed])
        accumulator.add(exchangeID: 3, request: request, results: [.baseline: result(.baseline, "{}"), .candidate: result(.candidate, "{oops")])
        let s = accumulator.finish()
        // The timed-out pair is judged by the error gate, not compared for decisions.
        #expect(s.incomplete == 1 && s.pairs == 1 && s.errorPairs == 1 && s.mismatched == 1)
        #expect(s.errors == ["candidate": ["timeout": 1]])
        #expect(s.unparsable["candidate"]?.count == 1 && s.unparsable["candidate"]?.examples == [3])
        #expect(Set(s.kinds.map(\.kind)) == [.unparsable])
    }

    @Test func examplesAreCappedButCountsAreNot() {
        var rules = DiffRules()
        rules.examplesPerGroup = 3
        var accumulator = DiffAccumulator(rules: rules)
        for i in 0..<50 {
            accumulator.add(exchangeID: Int64(i + 1), pass: i % 2, request: request,
                            results: [.baseline: result(.baseline, #"{"a":1}"#), .candidate: result(.candidate, #"{"a":2}"#)])
        }
        let s = accumulator.finish()
        #expect(s.groups[0].exchanges == 50 && s.groups[0].examples.map(\.exchange) == [1, 2, 3])
        #expect(s.groups[0].examples.map(\.pass) == [0, 1, 0])
    }
}

@Suite struct LatencyVerdictTests {
    /// Two endpoints, 2,000 pairs each; the candidate is 2 ms slower on `/slow` only.
    @Test func aSlowEndpointIsJudgedAloneAndOverall() {
        var accumulator = DiffAccumulator(rules: DiffRules())
        var rng = SystemRandomNumberGenerator()
        for i in 0..<4_000 {
            let slow = i % 2 == 0
            let base = 2.0 + Double.random(in: 0..<0.3, using: &rng)
            let request = RecordedRequest(method: "POST", target: slow ? "/slow" : "/fast", headers: [], body: [])
            accumulator.add(exchangeID: Int64(i + 1), request: request, results: [
                .baseline: result(.baseline, "{}", latencyMs: base),
                .candidate: result(.candidate, "{}", latencyMs: base + (slow ? 2 : 0) + Double.random(in: 0..<0.01, using: &rng)),
                .secondary: result(.secondary, "{}", latencyMs: base + Double.random(in: 0..<0.01, using: &rng)),
            ])
        }
        let s = accumulator.finish()
        #expect(s.latency.overall?.pairs == 4_000 && s.latency.overall?.regressed == true)
        #expect(s.latency.endpoints.map(\.endpoint) == ["POST /fast", "POST /slow"])
        #expect(s.latency.endpoints.map(\.regressed) == [false, true])
        #expect(s.latency.secondary?.pairCount == 4_000)
        #expect(s.latency.secondary?.percentileDeltas.allSatisfy { abs($0.estimateNs ?? 1e9) < 100_000 } == true)
        #expect(s.gates.map(\.name) == ["mismatch rate", "error rate", "latency p50", "latency p99"])
        #expect(s.gates.map(\.passed) == [true, true, false, false])
        #expect(s.gates[2].value.contains("regressed: POST /slow"))
        #expect(!s.passed)
    }

    @Test func tooFewPairsAreNotJudgedAndSaySo() {
        var accumulator = DiffAccumulator(rules: DiffRules())
        for i in 0..<50 {
            accumulator.add(exchangeID: Int64(i + 1), request: request, results: [
                .baseline: result(.baseline, "{}", latencyMs: 1), .candidate: result(.candidate, "{}", latencyMs: 9),
            ])
        }
        var failed = result(.candidate, "")
        failed.error = .timeout
        failed.response = nil
        accumulator.add(exchangeID: 99, request: request, results: [.baseline: result(.baseline, "{}"), .candidate: failed])
        let s = accumulator.finish()
        #expect(s.latency.skippedPairs == ["a side failed": 1])
        let p99 = s.gates.first { $0.name == "latency p99" }
        #expect(p99?.passed == true && p99?.value.contains("not judged") == true)
        #expect(s.latency.overall?.analysis.baseline.percentiles.first { $0.percentile.label == "p99" }?.valueNs == nil)
    }

    @Test func theSameSeedGivesTheSameIntervals() {
        func run() -> String? {
            var accumulator = DiffAccumulator(rules: DiffRules())
            for i in 0..<1_500 {
                accumulator.add(exchangeID: Int64(i + 1), request: request, results: [
                    .baseline: result(.baseline, "{}", latencyMs: 1 + Double(i % 97) / 100),
                    .candidate: result(.candidate, "{}", latencyMs: 1 + Double(i % 89) / 100),
                ])
            }
            return accumulator.finish().gates.last?.value
        }
        #expect(run() != nil && run() == run())
    }
}

/// Errors are judged apart from decisions: a failed side's pair is left out of the mismatch rate
/// and counted for the error gate, per kind, with the candidate's excess over the baseline.
@Suite struct ErrorGateTests {
    private func failed(_ side: Side, _ kind: ReplayErrorKind) -> SideResult {
        SideResult(exchangeID: 0, side: side, response: nil, firstByteNs: nil, latencyNs: nil, error: kind, errorMessage: "x")
    }

    /// 1,000 pairs: the candidate times out on `candidateTimeouts` of them, the baseline resets on `baselineResets`.
    private func run(candidateTimeouts: Int, baselineResets: Int = 0) -> DiffSummary {
        var accumulator = DiffAccumulator(rules: DiffRules())
        for i in 0..<1_000 {
            let ok = #"{"a":1}"#
            let results: [Side: SideResult] = [
                .baseline: i >= 1_000 - baselineResets ? failed(.baseline, .connectionReset) : result(.baseline, ok),
                .candidate: i < candidateTimeouts ? failed(.candidate, .timeout) : result(.candidate, ok),
            ]
            accumulator.add(exchangeID: Int64(i + 1), request: request, results: results)
        }
        return accumulator.finish()
    }

    @Test func failedPairsAreNotDecisionMismatches() {
        let s = run(candidateTimeouts: 2)
        #expect(s.pairs == 998 && s.errorPairs == 2 && s.mismatched == 0 && s.groups.isEmpty)
        #expect(s.errorVerdict.any?.candidateFailed == 2 && s.errorVerdict.any?.baselineFailed == 0)
        #expect(s.errorVerdict.regressed == false && s.passed, "two timeouts in 1,000 are no evidence: \(s.gates)")
    }

    @Test func onePercentOfCandidateTimeoutsFailsTheErrorGateOnly() {
        let s = run(candidateTimeouts: 10)
        #expect(!s.passed)
        #expect(s.gates.first { $0.name == "mismatch rate" }?.passed == true)
        #expect(s.gates.first { $0.name == "error rate" }?.passed == false)
        #expect(s.errorVerdict.kinds.map(\.kind) == ["timeout"] && s.errorVerdict.kinds[0].regressed)
        #expect(s.errors["candidate"]?["timeout"] == 10)
    }

    @Test func eachKindIsJudgedOnItsOwn() {
        let s = run(candidateTimeouts: 0, baselineResets: 10)
        #expect(s.errorVerdict.kinds.map(\.kind) == ["connection_reset"])
        let reset = s.errorVerdict.kinds[0]
        #expect(reset.baselineFailed == 10 && reset.candidateFailed == 0 && reset.excessRate < 0 && !reset.regressed)
        #expect(s.passed, "a baseline that fails more is no regression of the candidate")
    }
}
