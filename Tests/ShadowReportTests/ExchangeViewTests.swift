import ShadowCore
import ShadowDiff
import Testing

@testable import ShadowReport

struct ExchangeViewTests {
    static let request = RecordedRequest(
        method: "POST", target: "/openrtb2/auction?key=k1", headers: [HeaderField("Authorization", "Bearer s3cret")],
        body: Array(#"{"id":"r","imp":[{"id":"1"},{"id":"2"}]}"#.utf8))

    static func answer(_ side: Side, _ body: String, status: Int = 200) -> SideResult {
        SideResult(exchangeID: 7, side: side, response: RecordedResponse(status: status, headers: [], body: Array(body.utf8)),
                   firstByteNs: nil, latencyNs: 1_500_000)
    }

    static let baseline = #"{"id":"a","seatbid":[{"seat":"s","bid":[{"impid":"1","price":1.5,"crid":"c1"},{"impid":"2","price":2,"crid":"c2"}]}]}"#
    static let candidate = #"{"id":"b","seatbid":[{"seat":"s","bid":[{"impid":"1","price":1.25,"crid":"c1"}]}]}"#

    @Test func openRTBDifferencesAreMarkedWhereTheyAreInEachBody() {
        let view = ExchangeView(
            exchangeID: 7, pass: 0, exchange: CapturedExchange(
                captureTimeNs: 0, connection: 1, client: "c", server: "s", wireProtocol: .http1, request: Self.request, response: nil,
                productionLatencyNs: nil),
            results: [.baseline: Self.answer(.baseline, Self.baseline), .candidate: Self.answer(.candidate, Self.candidate)],
            rules: DiffRules(), redaction: Redaction(fields: ["key"]))
        #expect(view.preset == .openrtb)
        #expect(view.mismatches.first?.mismatches.map(\.field) == ["/imp/*/price", "/imp/*/bid"])
        let candidate = view.answers.first { $0.name == "candidate" }!
        let marked = zip(candidate.bodyLines, candidate.lines.map(\.marked)).filter(\.1).map { $0.0.trimmingCharacters(in: .whitespaces) }
        #expect(marked == [#""price": 1.25,"#], "only the candidate's differing price: \(marked)")
        let baseline = view.answers.first { $0.name == "baseline" }!
        #expect(baseline.markedLineCount == 6, "the baseline's price, and the whole bid for impression 2 (5 lines)")
        #expect(view.request.title == "POST /openrtb2/auction?key=[redacted] HTTP/1.1")
        #expect(view.request.headers.first?.value == "[redacted]")
        let text = ExchangeText.render(view, color: false)
        #expect(text.contains("» " + String(repeating: " ", count: 10) + #""price": 1.25,"#), "marked, indentation kept")
        #expect(text.contains("candidate  decision /imp/*/bid imp 2: baseline bid 2, candidate no-bid"))
    }

    @Test func bodiesThatAreNotJSONAreShownReadablyAndBounded() {
        let big = String(repeating: "line\n", count: 1_000)
        let view = ExchangeView(
            exchangeID: 1, pass: 2, exchange: CapturedExchange(
                captureTimeNs: 0, connection: 1, client: "c", server: "s", wireProtocol: .http1,
                request: RecordedRequest(method: "GET", target: "/x", headers: [], body: []),
                response: RecordedResponse(status: 500, headers: [], body: [0x61, 0xFF, 0x1B, 0x62]), productionLatencyNs: 3),
            results: [.baseline: Self.answer(.baseline, big), .candidate: SideResult(
                exchangeID: 1, side: .candidate, response: nil, firstByteNs: nil, latencyNs: nil, error: .timeout,
                errorMessage: "after 50 ms")],
            rules: DiffRules(), redaction: Redaction())
        #expect(view.answers.map(\.name) == ["production", "baseline", "candidate"])
        #expect(view.answers[0].bodyLines == ["a\\xFF\u{1B}b"])
        #expect(ExchangeText.render(view, color: false).contains("a\\xFF\u{241B}b"), "no escape sequence reaches the terminal")
        #expect(view.answers[1].bodyLines.count == ExchangeView.maxBodyLines && view.answers[1].omittedLines == 1_001 - ExchangeView.maxBodyLines)
        #expect(view.answers[2].title == "no answer: timeout (after 50 ms)")
        #expect(view.request.bodyNote == "no body")
    }
}
