import Foundation
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

    /// Plain decimals take a path without strtod; it must give strtod's double, bit for bit.
    @Test func numbersConvertAsStrtodDoes() {
        var texts = ["0", "-0", "1.52", "0.05", "3.14", "-12.5", "999999999999999", "0.000000000000001", "123456.789012345",
                     "1.0000000000000002", "9007199254740993", "1e5", "1.5E-3", "01", "00.5", "-0.0", "2.675", "0.1"]
        var state: UInt64 = 42
        for _ in 0..<2000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let whole = state >> 44, digits = Int(state % 16)
            let fraction = String(String(state >> 8).prefix(digits))
            texts.append(fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)")
        }
        for text in texts {
            let parsed = JSONParser.parse(Array(text.utf8))
            guard case .number(let value)? = parsed else {
                #expect(text == "01" || text == "00.5", "\(text) did not parse")
                continue
            }
            let reference = strtod(text, nil)
            #expect(value.bitPattern == reference.bitPattern, "\(text): \(value) vs strtod \(reference)")
        }
    }

    /// Strings are skipped eight bytes at a time: quotes, escapes and control bytes at every offset.
    @Test func skippedStringsEndAtTheirQuoteWhereverItFalls() throws {
        for length in 0..<20 {
            let plain = String(repeating: "a", count: length)
            for tail in ["\"", "\\\"x\"", "\\u00e9\""] {
                let body = #"{"seatbid":[{"bid":[{"adm":""# + plain + tail + #","impid":"1","price":2}]}]}"#
                #expect(try JSONParser.openRTBBids(Array(body.utf8))["1"]?.price == 2, "\(body)")
            }
            var broken = Array(#"{"seatbid":[{"bid":[{"adm":""#.utf8) + Array(plain.utf8)
            broken += [0x01] + Array(#"","impid":"1","price":2}]}]}"#.utf8)
            #expect(throws: JSONParseError.self) { try JSONParser.openRTBBids(broken) }
        }
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
