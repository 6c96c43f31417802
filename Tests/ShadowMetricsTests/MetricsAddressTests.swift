import ShadowMetrics
import Testing

@Test func parsesGoodAddresses() throws {
    #expect(try MetricsAddress.parse("127.0.0.1:9464") == ("127.0.0.1", 9464))
    #expect(try MetricsAddress.parse("[::1]:9464") == ("::1", 9464))
    #expect(try MetricsAddress.parse(":9464") == ("127.0.0.1", 9464))
    #expect(try MetricsAddress.parse("0.0.0.0:0") == ("0.0.0.0", 0))
    #expect(try MetricsAddress.parse("localhost:65535") == ("localhost", 65535))
}

@Test(arguments: [
    "", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:+80",
    "::1:9464", "[::1]9464", "[::1:9464", "[]:9464", "[127.0.0.1]:9464", "a b:9464",
])
func rejectsBadAddresses(_ text: String) {
    #expect(throws: MetricsEndpointError.self) { try MetricsAddress.parse(text) }
    #expect(
        MetricsEndpointError.invalidAddress(text).description
            == "--metrics: '\(text)' is not ADDR:PORT (e.g. 127.0.0.1:9464)")
}
