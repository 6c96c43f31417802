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
