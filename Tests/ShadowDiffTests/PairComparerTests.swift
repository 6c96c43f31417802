import ShadowCore
import Testing

@testable import ShadowDiff

private let request = RecordedRequest(
    method: "POST", target: "/openrtb2/auction", headers: [],
    body: Array(#"{"id":"r1","imp":[{"id":"1","banner":{"w":300,"h":250}},{"id":"2","video":{}}]}"#.utf8))

private func answer(_ status: Int, _ body: String) -> SideResult {
    SideResult(exchangeID: 1, side: .baseline, response: RecordedResponse(status: status, headers: [], body: Array(body.utf8)),
               firstByteNs: 1, latencyNs: 1_000_000)
}

private func bid(_ imp: String, _ price: Double, crid: String = "c1", deal: String? = nil) -> String {
    #"{"id":"\#(Int.random(in: 0...1_000_000))","impid":"\#(imp)","price":\#(price),"crid":"\#(crid)","adomain":["b.com","a.com"]\#(deal.map { #","dealid":"\#($0)""# } ?? "")}"#
}

private func response(_ bids: String..., nbr: Bool = false) -> String {
    #"{"id":"r1","bidid":"\#(Int.random(in: 0...1_000_000))","seatbid":[{"seat":"s","bid":[\#(bids.joined(separator: ","))]}],"ext":{"ts":\#(Int.random(in: 0...1_000_000))}}"#
}

@Suite struct PairComparerTests {
    let options = DiffOptions()

    func compare(_ a: SideResult, _ b: SideResult) -> [Mismatch] {
        let (rules, mismatches) = PairComparer.compare(request: request, baseline: a, candidate: b, options: options)
        #expect(rules == .openrtb)
        return mismatches
    }

    @Test func noiseFieldsAreIgnored() {
        #expect(compare(answer(200, response(bid("1", 1.5), bid("2", 3))), answer(200, response(bid("1", 1.5), bid("2", 3)))).isEmpty)
    }

    @Test func noBidFormsAreEquivalent() {
        let forms = [answer(204, ""), answer(200, #"{"id":"r1","seatbid":[]}"#), answer(200, #"{"id":"r1","nbr":2}"#), answer(200, "")]
        for a in forms { for b in forms { #expect(compare(a, b).isEmpty) } }
    }

    @Test func bidVersusNoBidIsADecisionMismatchPerImpression() {
        let mismatches = compare(answer(200, response(bid("1", 1.5), bid("2", 3))), answer(204, ""))
        #expect(mismatches.map(\.kind) == [.decision, .decision])
        #expect(mismatches.map(\.impression) == ["1", "2"])
        #expect(mismatches[0].candidate == "no-bid")
    }

    @Test func priceCreativeAndDealDifferencesAreNamed() {
        let mismatches = compare(
            answer(200, response(bid("1", 1.5, crid: "a"), bid("2", 3, deal: "d1"))),
            answer(200, response(bid("1", 1.5, crid: "b"), bid("2", 2.7, deal: "d2"))))
        #expect(Set(mismatches.map(\.kind)) == [.crid, .price, .dealid])
        #expect(mismatches.first { $0.kind == .price }?.impression == "2")
    }

    @Test func priceWithinToleranceMatches() {
        #expect(compare(answer(200, response(bid("1", 1.50000))), answer(200, response(bid("1", 1.500001)))).isEmpty)
    }

    @Test func errorsAndStatusesAreCompared() {
        var failed = answer(200, "")
        failed.response = nil
        failed.error = .connectionRefused
        let (_, errorMismatch) = PairComparer.compare(request: request, baseline: answer(204, ""), candidate: failed, options: options)
        #expect(errorMismatch.map(\.kind) == [.error])
        let (_, statusMismatch) = PairComparer.compare(request: request, baseline: answer(204, ""), candidate: answer(500, ""), options: options)
        #expect(statusMismatch.map(\.kind) == [.status])
    }

    @Test func nonOpenRTBBodiesUseJSONRules() {
        let plain = RecordedRequest(method: "GET", target: "/x", headers: [], body: [])
        let (rules, mismatches) = PairComparer.compare(
            request: plain, baseline: answer(200, #"{"a":1,"b":[1,2]}"#), candidate: answer(200, #"{"a":1,"b":[1,3]}"#), options: options)
        #expect(rules == .json)
        #expect(mismatches.map(\.field) == ["/b/*"])
        let (_, bytes) = PairComparer.compare(request: plain, baseline: answer(200, "abc"), candidate: answer(200, "abd"), options: options)
        #expect(bytes.map(\.kind) == [.body])
    }
}

@Suite struct DiffAccumulatorTests {
    @Test func countsGroupsLatencyAndGates() {
        var acc = DiffAccumulator(options: DiffOptions())
        for id in 1...100 {
            var b = answer(200, response(bid("1", 1.5), bid("2", 3)))
            var c = answer(200, response(bid("1", 1.5), bid("2", id % 10 == 0 ? 2.7 : 3)))
            b.latencyNs = 1_000_000
            c.latencyNs = id > 95 ? 9_000_000 : 1_000_000
            c.side = .candidate
            acc.add(exchangeID: Int64(id), request: request, results: [.baseline: b, .candidate: c])
        }
        acc.add(exchangeID: 101, request: request, results: [.baseline: answer(204, "")])
        let s = acc.finish()
        #expect(s.pairs == 100 && s.mismatched == 10 && s.matched == 90 && s.incomplete == 1)
        #expect(s.kinds.map(\.kind) == [.price])
        #expect(s.kinds[0].count == 10 && s.kinds[0].examples == [10, 20, 30, 40, 50])
        #expect(s.groups.count == 1 && s.groups[0].endpoint == "POST /openrtb2/auction" && s.groups[0].rate == 0.1)
        #expect(s.latency["baseline"]?.count == 101)
        #expect(s.latency["candidate"]?.p99Ns ?? 0 > 8_900_000)
        #expect(s.gates.map(\.passed) == [false, false])
        #expect(!s.passed)
    }

    @Test func identicalAnswersPassTheGates() {
        var acc = DiffAccumulator(options: DiffOptions())
        for id in 1...50 {
            var c = answer(204, "")
            c.side = .candidate
            acc.add(exchangeID: Int64(id), request: request, results: [.baseline: answer(204, ""), .candidate: c])
        }
        let s = acc.finish()
        #expect(s.passed && s.mismatched == 0 && s.gates.count == 2)
    }
}
