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

    @Test func memberNamesWithEscapesAreDecoded() {
        #expect(JSONParser.parse(Array(#"{"a\u0062":1,"\"":2,"":3}"#.utf8)) == .object([("ab", .number(1)), ("\"", .number(2)), ("", .number(3))]))
        #expect(JSONParser.parse(Array(#"{"a\x":1}"#.utf8)) == nil)
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

/// Found by the json-diff fuzz target (fixtures/fuzz/json-diff/crash-f6c7…): a bid with its
/// `impid` and `price` given twice differed from itself under the `json` rules.
@Suite struct DuplicateMemberTests {
    @Test(arguments: [3, 12])
    func aMemberGivenTwiceKeepsItsLastValueAtItsFirstPlace(width: Int) throws {
        let filler = (0..<width).map { "\"f\($0)\":\($0)" }.joined(separator: ",")
        let text = "{\"impid\":\"5\",\(filler),\"price\":1.25,\"impid\":\"1\",\"price\":1.875}"
        guard case .object(let members)? = JSONParser.parse(Array(text.utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == width + 2)
        #expect(members.first?.key == "impid")
        #expect(members.first?.value == JSONParser.parse(Array("\"1\"".utf8)))
        #expect(members.last?.value == JSONParser.parse(Array("1.875".utf8)))
    }
}
