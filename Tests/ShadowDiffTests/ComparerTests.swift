import ShadowCore
import Testing

@testable import ShadowDiff

private func json(_ text: String) -> JSONValue { JSONParser.parse(Array(text.utf8))! }

private func answer(_ status: Int, _ body: String, headers: [HeaderField] = [], preset: RulePreset = .openrtb) -> PreparedAnswer {
    PreparedAnswer(response: RecordedResponse(status: status, headers: headers, body: Array(body.utf8)), failure: nil, preset: preset)
}

private func bid(_ imp: String, _ price: Double, crid: String = "c1", deal: String? = nil, cat: String = #"["IAB1","IAB2"]"#) -> String {
    #"{"id":"\#(Int.random(in: 0...1_000_000))","impid":"\#(imp)","price":\#(price),"crid":"\#(crid)","adomain":["b.com","a.com"],"cat":\#(cat)\#(deal.map { #","dealid":"\#($0)""# } ?? "")}"#
}

private func response(_ bids: String...) -> String {
    #"{"id":"r1","bidid":"\#(Int.random(in: 0...1_000_000))","seatbid":[{"seat":"s","bid":[\#(bids.joined(separator: ","))]}],"ext":{"ts":\#(Int.random(in: 0...1_000_000))}}"#
}

@Suite struct JSONComparerTests {
    func differences(_ a: String, _ b: String, _ rules: DiffRules = DiffRules()) -> [Mismatch] {
        var comparer = JSONComparer(rules: rules)
        comparer.compare(json(a), json(b))
        return comparer.mismatches
    }

    @Test func reportsChangedAddedAndRemovedFieldsByPointer() {
        let diffs = differences(
            #"{"id":"1","seatbid":[{"bid":[{"price":1.5,"crid":"a"}]}],"gone":true}"#,
            #"{"id":"2","seatbid":[{"bid":[{"price":1.5,"crid":"b"}]}],"new":1}"#)
        #expect(diffs.map(\.field) == ["/id", "/seatbid/*/bid/*/crid", "/gone", "/new"])
        #expect(diffs.map(\.path) == [nil, "/seatbid/0/bid/0/crid", nil, nil])
        #expect(diffs[2].right == "(absent)" && diffs[3].left == "(absent)")
    }

    @Test func ignoredPathsAndTolerancesAreHonoured() throws {
        var rules = DiffRules()
        rules.ignore = [try PathPattern("/id"), try PathPattern("/ext/**")]
        rules.tolerances = [NumericTolerance(path: try PathPattern("/**/price"), relative: 0.01),
                            NumericTolerance(path: try PathPattern("/n"), absolute: 0.5)]
        #expect(differences(#"{"id":1,"ext":{"a":[1]},"x":{"price":100},"n":1}"#,
                            #"{"id":2,"ext":{"b":2},"x":{"price":100.9},"n":1.5}"#, rules).isEmpty)
        #expect(differences(#"{"x":{"price":100},"n":1}"#, #"{"x":{"price":102},"n":1.6}"#, rules).map(\.field) == ["/x/price", "/n"])
    }

    @Test func arraysAsSetsIgnoreOrderButCountRepeats() throws {
        var rules = DiffRules()
        rules.arrays = [ArrayRule(path: try PathPattern("/a"), mode: .set)]
        #expect(differences(#"{"a":[1,{"x":1,"y":2},3]}"#, #"{"a":[3,1,{"y":2,"x":1}]}"#, rules).isEmpty)
        let diffs = differences(#"{"a":[1,1,2]}"#, #"{"a":[1,2,2]}"#, rules)
        #expect(diffs.count == 1)
        #expect(diffs[0].field == "/a" && diffs[0].left == "only 1" && diffs[0].right == "only 2")
        #expect(differences(#"{"a":[1,2]}"#, #"{"a":[2,1]}"#).map(\.field) == ["/a/*", "/a/*"])
    }

    @Test func keyedArraysMatchElementsByMember() throws {
        var rules = DiffRules()
        rules.arrays = [ArrayRule(path: try PathPattern("/bid"), mode: .keyed(by: "impid"))]
        let diffs = differences(
            #"{"bid":[{"impid":"1","p":1},{"impid":"2","p":2}]}"#,
            #"{"bid":[{"impid":"2","p":3},{"impid":"1","p":1},{"impid":"3","p":1}]}"#, rules)
        #expect(diffs.map(\.field) == ["/bid/*/p", "/bid/*"])
        #expect(diffs.map(\.path) == ["/bid/2/p", "/bid/3"])
    }

    @Test func stopsAtTheLimitAndSaysSo() {
        let wide = "{" + (0..<200).map { #""k\#($0)":\#($0)"# }.joined(separator: ",") + "}"
        let other = "{" + (0..<200).map { #""k\#($0)":-1"# }.joined(separator: ",") + "}"
        var comparer = JSONComparer(rules: DiffRules(), limit: 10)
        comparer.compare(json(wide), json(other))
        #expect(comparer.mismatches.count == 10)
        #expect(comparer.truncated)
    }
}

@Suite struct AnswerComparerTests {
    func compare(_ a: PreparedAnswer, _ b: PreparedAnswer, preset: RulePreset = .openrtb, rules: DiffRules = DiffRules()) -> [Mismatch] {
        AnswerComparer.compare(a, b, preset: preset, rules: rules).mismatches
    }

    @Test func openRTBNoiseFieldsAreIgnored() {
        #expect(compare(answer(200, response(bid("1", 1.5), bid("2", 3))), answer(200, response(bid("2", 3), bid("1", 1.5)))).isEmpty)
    }

    @Test func noBidFormsAreEquivalent() {
        let forms = [answer(204, ""), answer(200, #"{"id":"r1","seatbid":[]}"#), answer(200, #"{"id":"r1","nbr":2}"#), answer(200, ""),
                     answer(200, #"{"id":"r1"}"#)]
        for a in forms { for b in forms { #expect(compare(a, b).isEmpty) } }
    }

    @Test func bidVersusNoBidIsADecisionPerImpression() {
        let mismatches = compare(answer(200, response(bid("1", 1.5), bid("2", 3))), answer(204, ""))
        #expect(mismatches.map(\.kind) == [.decision, .decision])
        #expect(mismatches.map(\.field) == ["/imp/*/bid", "/imp/*/bid"])
        #expect(mismatches.map(\.impression) == ["1", "2"])
        #expect(mismatches[0].left == "bid 1.5" && mismatches[0].right == "no-bid")
    }

    @Test func decisionFieldsAreNamedPerImpression() {
        let mismatches = compare(
            answer(200, response(bid("1", 1.5, crid: "a"), bid("2", 3, deal: "d1"))),
            answer(200, response(bid("1", 1.5, crid: "b", cat: #"["IAB2","IAB1"]"#), bid("2", 2.7, deal: "d2", cat: #"["IAB9"]"#))))
        #expect(mismatches.map(\.field) == ["/imp/*/crid", "/imp/*/price", "/imp/*/dealid", "/imp/*/cat"])
        #expect(mismatches.map(\.impression) == ["1", "2", "2", "2"])
    }

    @Test func priceToleranceAndIgnoredDecisionFields() throws {
        #expect(compare(answer(200, response(bid("1", 1.50000))), answer(200, response(bid("1", 1.500001)))).isEmpty)
        var rules = DiffRules()
        rules.ignore = [try PathPattern("/imp/*/crid")]
        rules.priceTolerance = 0.1
        #expect(compare(answer(200, response(bid("1", 1.5, crid: "a"))), answer(200, response(bid("1", 1.6, crid: "b"))), rules: rules).isEmpty)
    }

    @Test func errorsAndStatusesAreCompared() {
        let failed = PreparedAnswer(response: nil, failure: "connection_refused", preset: .openrtb)
        #expect(compare(answer(204, ""), failed).map(\.kind) == [.error])
        #expect(compare(failed, failed).isEmpty)
        #expect(compare(answer(204, ""), answer(500, "")).map(\.kind) == [.status])
        var rules = DiffRules()
        rules.statusClasses = true
        #expect(compare(answer(500, "", preset: .json), answer(503, "", preset: .json), preset: .json, rules: rules).isEmpty)
        #expect(compare(answer(200, "", preset: .json), answer(503, "", preset: .json), preset: .json, rules: rules).map(\.kind) == [.status])
    }

    @Test func selectedHeadersAreCompared() {
        var rules = DiffRules()
        rules.headers = ["Content-Type"]
        let a = answer(200, "{}", headers: [HeaderField("content-type", "application/json")], preset: .json)
        let b = answer(200, "{}", headers: [HeaderField("Content-Type", "text/plain"), HeaderField("X-Other", "1")], preset: .json)
        #expect(compare(a, b, preset: .json, rules: rules).map(\.field) == ["header:content-type"])
        #expect(compare(a, b, preset: .json).isEmpty)
    }

    @Test func bodiesThatAreNotJSONAreACountedKindNotACrash() {
        let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        let bad = PreparedAnswer(response: RecordedResponse(status: 200, headers: [], body: [0x7B, 0xFF, 0xFE]), failure: nil, preset: .openrtb)
        #expect(bad.unparsable == "not JSON (error at byte 1)")
        #expect(answer(200, deep).unparsable?.contains("nested deeper than 128") == true)
        #expect(compare(answer(200, response(bid("1", 1))), bad).map(\.kind) == [.unparsable])
        #expect(compare(answer(200, response(bid("1", 1))), answer(200, deep)).map(\.kind) == [.unparsable])
        #expect(compare(bad, bad).isEmpty)
        // json rules: plain text on both sides is compared as bytes, JSON against text is unparsable.
        #expect(compare(answer(200, "abc", preset: .json), answer(200, "abd", preset: .json), preset: .json).map(\.kind) == [.body])
        #expect(compare(answer(200, "{}", preset: .json), answer(200, "abd", preset: .json), preset: .json).map(\.kind) == [.unparsable])
        let corruptGzip = PreparedAnswer(
            response: RecordedResponse(status: 200, headers: [HeaderField("Content-Encoding", "gzip")], body: [1, 2, 3]), failure: nil,
            preset: .openrtb)
        #expect(corruptGzip.unparsable?.contains("gzip body is corrupt") == true)
    }
}

@Suite struct EndpointNameTests {
    @Test func identifiersBecomePlaceholders() {
        #expect(EndpointName.of(method: "POST", path: "/openrtb2/auction") == "POST /openrtb2/auction")
        #expect(EndpointName.of(method: "GET", path: "/users/12345/items/9f8e7d6c5b4a39281706") == "GET /users/{n}/items/{id}")
        #expect(EndpointName.of(method: "GET", path: "/v/3f2c1a9e-8d7b-4c6a-9e5f-0a1b2c3d4e5f") == "GET /v/{id}")
        #expect(EndpointName.of(method: "GET", path: "/deadbeef-cafe") == "GET /deadbeef-cafe")
        #expect(EndpointName.of(method: "GET", path: "") == "GET /")
    }
}

@Suite struct OpenRTBBidsTests {
    /// The streaming reader agrees with extracting from the parsed document, on every fixture
    /// shape: several seats, repeated impressions, numeric ids, missing fields, noise members.
    @Test(arguments: [
        response(bid("1", 1.5), bid("2", 3, deal: "d")),
        #"{"cur":"EUR","seatbid":[{"seat":"a","bid":[{"impid":1,"price":2,"attr":[3,1]}]},{"seat":"b","bid":[{"impid":"1","price":2.5,"cat":["x"]}]}]}"#,
        #"{"seatbid":[{"bid":[{"impid":"1","price":1},{"impid":"1","price":0.5},{"price":9}]}],"ext":{"seatbid":[]}}"#,
        #"{"id":"x","nbr":2}"#, #"{"seatbid":"nope"}"#, #"[1,2]"#, #"{"seatbid":[{"bid":[{"impid":"\u0031","adm":"<a href=\"x\">"}]}]}"#,
    ])
    func agreesWithTheDocumentReader(_ body: String) throws {
        let bytes = Array(body.utf8)
        #expect(try JSONParser.openRTBBids(bytes) == Self.bidsFromDocument(JSONParser.parse(bytes)))
    }

    /// The decisions read from the parsed document, the plain way: the reference the streaming
    /// reader is checked against.
    static func bidsFromDocument(_ body: JSONValue?) -> [String: Bid] {
        func texts(_ value: JSONValue?) -> [String] {
            (value?.arrayValue ?? []).map { $0.stringValue ?? $0.preview() }.sorted()
        }
        guard let body, let seatbids = body["seatbid"]?.arrayValue else { return [:] }
        let currency = body["cur"]?.stringValue ?? "USD"
        var out: [String: Bid] = [:]
        for seatbid in seatbids {
            for item in seatbid["bid"]?.arrayValue ?? [] {
                guard let impid = item["impid"].map({ $0.stringValue ?? $0.preview() }) else { continue }
                let bid = Bid(
                    price: item["price"]?.numberValue ?? 0, crid: item["crid"]?.stringValue, adomain: texts(item["adomain"]),
                    dealid: item["dealid"]?.stringValue, cat: texts(item["cat"]), attr: texts(item["attr"]),
                    seat: seatbid["seat"]?.stringValue, currency: currency)
                if let existing = out[impid], existing.price >= bid.price { continue }
                out[impid] = bid
            }
        }
        return out
    }

    @Test(arguments: [#"{"seatbid":[{"bid":[{"impid":"1",}]}]}"#, #"{"seatbid":[]} x"#, "{\"ext\":\"\u{01}\"}", "{"])
    func refusesWhatIsNotJSON(_ body: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.openRTBBids(Array(body.utf8)) }
    }

    @Test func deepNestingIsRefusedWithoutRecursingForever() {
        let deep = #"{"seatbid":[{"bid":[{"ext":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}]}]}"
        #expect(throws: JSONParseError.self) { try JSONParser.openRTBBids(Array(deep.utf8)) }
    }
}
