import ShadowCore
import Testing

@testable import ShadowReplay

@Suite struct ReplayTargetTests {
    @Test func parsesHostPortAndPrefix() throws {
        let t = try ReplayTarget(side: .baseline, url: "http://127.0.0.1:8080/v2/", flag: "--baseline")
        #expect(t.host == "127.0.0.1" && t.port == 8080 && t.pathPrefix == "/v2" && t.authority == "127.0.0.1:8080")
        let v6 = try ReplayTarget(side: .candidate, url: "http://[::1]:9000", flag: "--candidate")
        #expect(v6.host == "::1" && v6.port == 9000 && v6.authority == "[::1]:9000")
        #expect(try ReplayTarget(side: .baseline, url: "http://bidder", flag: "--baseline").port == 80)
    }

    @Test(arguments: ["https://x:1", "http://:80", "http://x:0", "http://x:99999", "http://x:abc", "ftp://x", "http://[::1"])
    func refusesBadURLsNamingTheFlag(_ url: String) {
        #expect {
            try ReplayTarget(side: .baseline, url: url, flag: "--baseline")
        } throws: { error in
            guard let error = error as? ShadowError, case .badURL(let flag, let bad, _) = error else { return false }
            return flag == "--baseline" && bad == url && error.description.hasPrefix("--baseline \(url):")
        }
    }
}
