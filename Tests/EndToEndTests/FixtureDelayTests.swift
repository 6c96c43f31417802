import Foundation
import Testing

/// `fixture-bidder --delay-us`: every answer comes the delay after the request, never earlier;
/// `--inject-delay-us` and `--flip-percent` choose their requests by id as documented.
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

    /// `--inject-delay-us` and `--flip-percent` hit exactly the requests whose id their hash
    /// chooses (fixtures/README.md, "Injected faults"), computed here independently.
    @Test func injectedDelaysAndFlipsHitExactlyTheChosenRequests() async throws {
        try await Harness.withTemporaryDirectory { dir in try probeInjections(in: dir) }
    }

    private func probeInjections(in dir: String) throws {
        let delayMs = 200
        let bidder = try RunningBidder(build: "baseline", arguments: [
            "--inject-delay-us", String(delayMs * 1000), "--inject-percent", "50", "--flip-percent", "50",
        ])
        defer { bidder.stop() }
        // 01-banner-300x250-site.json is always bid on by the baseline; only its id changes.
        let template = try String(contentsOfFile: Harness.root + "/fixtures/requests/01-banner-300x250-site.json", encoding: .utf8)
        let ids = (0..<24).map { "injection-probe-\($0)" }
        var config = ""
        for id in ids {
            let body = template.replacingOccurrences(of: "80ce30c53c16e6ede735f123ef6e32361bfc7b22", with: id)
            let path = dir + "/\(id).json"
            try body.write(toFile: path, atomically: true, encoding: .utf8)
            config += "url = \"\(bidder.url)/openrtb2/auction\"\noutput = \"/dev/null\"\nmax-time = 10\n"
            config += "data-binary = \"@\(path)\"\nheader = \"Content-Type: application/json\"\n"
            config += "write-out = \"%{http_code} %{time_total}\\n\"\nnext\n"
        }
        let configPath = dir + "/curl.cfg"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let out = try Harness.run("/usr/bin/curl", ["-s", "-K", configPath])
        let answers = out.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        try #require(answers.count == ids.count, "\(out.stdout)\(out.stderr)")
        var chosenForDelay = 0, chosenForFlip = 0
        for (id, answer) in zip(ids, answers) {
            let flipped = HonestyWorkload.chosen(requestID: id, salt: "flip", percent: 50)
            let delayed = HonestyWorkload.chosen(requestID: id, salt: "delay", percent: 50)
            chosenForFlip += flipped ? 1 : 0
            chosenForDelay += delayed ? 1 : 0
            #expect(answer.first == (flipped ? "204" : "200"), "\(id): \(answer)")
            let seconds = Double(answer.last ?? "") ?? -1
            if delayed {
                #expect(seconds >= Double(delayMs) / 1000, "\(id) is answered \(delayMs) ms late: \(seconds) s")
            } else {
                #expect(seconds >= 0 && seconds < Double(delayMs) / 1000, "\(id) is answered at once: \(seconds) s")
            }
        }
        #expect((1..<ids.count).contains(chosenForDelay) && (1..<ids.count).contains(chosenForFlip), "both kinds of request are probed")
        #expect(try Harness.run(Harness.bidder, ["--build", "baseline", "--port", "0", "--inject-delay-us", "5"]).status == 64,
                "--inject-delay-us without --inject-percent is refused")
    }

    @Test func delayMustNotBeNegative() throws {
        let out = try Harness.run(Harness.bidder, ["--build", "baseline", "--port", "0", "--delay-us=-1"])
        #expect(out.status == 64)
        #expect(out.stderr.contains("--delay-us"))
    }
}
