import Testing

@testable import ShadowDiff

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() {
        let value = JSONParser.parse(Array(#" {"a": [1, -2.5e2, true, false, null], "b": "x\"\u00e9\ud83d\ude00\n", "c": {}} "#.utf8))
        #expect(value == .object([
            ("a", .array([.number(1), .number(-250), .bool(true), .bool(false), .null])),
            ("b", .string("x\"é😀\n")),
            ("c", .object([])),
        ]))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "1 2", "{\"a\":1,}", "[\"\u{01}\"]", "-", "\"\\x\"",
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
    ])
    func rejectsMalformedInputWithoutCrashing(_ text: String) {
        #expect(JSONParser.parse(Array(text.utf8)) == nil)
    }

    @Test func rejectsInvalidUTF8InStrings() {
        #expect(JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) == nil)
    }

    @Test func objectEqualityIgnoresMemberOrder() {
        #expect(JSONParser.parse(Array(#"{"a":1,"b":2}"#.utf8)) == JSONParser.parse(Array(#"{"b":2,"a":1}"#.utf8)))
    }

    @Test func writerEscapesControlCharacters() {
        #expect(JSONValue.string("a\u{01}\"").preview() == #""a\u0001\"""#)
    }
}

@Suite struct JSONDiffTests {
    @Test func reportsChangedAddedAndRemovedFieldsByPointer() {
        let a = JSONParser.parse(Array(#"{"id":"1","seatbid":[{"bid":[{"price":1.5,"crid":"a"}]}],"gone":true}"#.utf8))!
        let b = JSONParser.parse(Array(#"{"id":"2","seatbid":[{"bid":[{"price":1.5,"crid":"b"}]}],"new":1}"#.utf8))!
        let diffs = JSONDiff.differences(a, b)
        #expect(diffs.map(\.path) == ["/id", "/seatbid/0/bid/0/crid", "/gone", "/new"])
        #expect(diffs[1].template == "/seatbid/*/bid/*/crid")
        #expect(diffs[2].candidate == nil)
        #expect(JSONDiff.differences(a, b, ignoring: ["/id"]).count == 3)
    }
}
