import ShadowCore
import ShadowDiff
import Testing

@testable import ShadowReport

struct RedactionTests {
    @Test func secretHeadersAreHiddenByDefaultAndShownWhenDisabled() {
        let headers = [HeaderField("Authorization", "Bearer abc"), HeaderField("set-cookie", "s=1"), HeaderField("X-Api-Key", "k"),
                       HeaderField("Content-Type", "application/json")]
        let hidden = Redaction(headers: ["X-API-Key"]).apply(headers)
        #expect(hidden.map(\.value) == ["[redacted]", "[redacted]", "[redacted]", "application/json"])
        #expect(Redaction.none.apply(headers) == headers)
    }

    @Test func secretJSONMembersQueryParametersAndReportedValuesAreHidden() throws {
        let r = Redaction(fields: ["user_token", "ip"])
        let document = try JSONParser.parseOrThrow(Array(#"{"device":{"ip":"1.2.3.4","ua":"x"},"user":[{"USER_TOKEN":7}]}"#.utf8))
        let hidden = r.apply(document)
        #expect(hidden["device"]?["ip"] == .string("[redacted]"))
        #expect(hidden["device"]?["ua"] == .string("x"))
        #expect(hidden["user"]?.arrayValue?.first?["USER_TOKEN"] == .string("[redacted]"))
        #expect(r.apply(target: "/bid?a=1&user%5Ftoken=s3cret&ip") == "/bid?a=1&user%5Ftoken=[redacted]&ip")
        #expect(r.apply(value: "\"1.2.3.4\"", at: "/device/ip") == "[redacted]")
        #expect(r.apply(value: "\"x\"", at: "/device/ua") == "\"x\"")
    }

    @Test func escapingLeavesNoMarkupAndShowsInvalidUTF8AsHex() {
        let hostile = #"</script><script>alert(1)</script><img src=x onerror="alert(2)"> 'a' & b"#
        let escaped = HTMLText.escape(hostile)
        #expect(!escaped.contains("<") && !escaped.contains(">") && !escaped.contains("\"") && !escaped.contains("'"))
        #expect(escaped.hasPrefix("&lt;/script&gt;"))
        #expect(HTMLText.readable([0x61, 0xFF, 0xC3, 0xA9, 0xE2, 0x82]) == "a\\xFFé\\xE2\\x82")
        #expect(HTMLText.escape("a\u{0}b\u{1B}c") == "a\u{2400}b\u{241B}c")
    }
}
