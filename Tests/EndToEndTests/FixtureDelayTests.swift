import Foundation
import Testing

/// `fixture-bidder --delay-us`: every answer comes the delay after the request, never earlier.
@Suite struct FixtureDelayTests {
    @Test func delayedAnswersAreNeverEarlyAndNotMuchLater() throws {
        let bidder = try RunningBidder(build: "candidate", arguments: ["--delay-us", "20000", "--slow-ms", "0"])
        defer { bidder.stop() }
        // fixtures/delay_probe.py times sequential keep-alive POSTs; --json prints its figures.
        let probe = try Harness.run("/usr/bin/python3", [
            Harness.root + "/fixtures/delay_probe.py", "--port", String(bidder.port), "--delay-us", "20000",
            "--requests", "20", "--warmup", "2", "--json",
            "--body", Harness.root + "/fixtures/requests/01-banner-300x250-site.json",
        ])
        #expect(probe.status == 0, "\(probe.stderr)")
        let figures = try #require(
            try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any], "\(probe.stdout)")
        #expect(figures["requests"] as? Int == 20)
        #expect(figures["early"] as? Int == 0, "no answer before 20 ms: \(figures)")
        let p50 = try #require(figures["p50_us"] as? Double)
        #expect(p50 >= 0 && p50 < 20_000, "median answer within 20 ms after the delay: \(figures)")
    }

    @Test func delayMustNotBeNegative() throws {
        let out = try Harness.run(Harness.bidder, ["--build", "baseline", "--port", "0", "--delay-us=-1"])
        #expect(out.status == 64)
        #expect(out.stderr.contains("--delay-us"))
    }
}
