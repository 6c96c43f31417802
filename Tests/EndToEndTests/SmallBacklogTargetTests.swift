import Foundation
import Testing

/// Replays against the kind of target a Python/Django baseline is: `ThreadingHTTPServer` with a
/// listen backlog of 5, answering in about 40 ms (fixtures/threading_bidder.py). Before lanes were
/// made ready ahead of the clock, `--concurrency 16` lost 5-6 of 1,068 requests to connect
/// timeouts (SYNs dropped by the overflowing backlog, retransmitted after 1 s) and an A/A run
/// failed its gate.
///
/// Nothing here is statistical: with every connection made and proven before the clock, no request
/// connects, so a correct replayer has no error to make (the per-request timeout, 2 s, is 40 times
/// the answer time). The timeout test's counts are exact: which requests the candidate holds is a
/// function of their ids.
@Suite(.serialized) struct SmallBacklogTargetTests {
    static let requestCount = 1100

    @Test(arguments: [["--concurrency", "16"], ["--concurrency", "32"], ["--rate", "200"]])
    func anAARunAgainstASmallBacklogTargetHasNoErrorAndPasses(timing: [String]) async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try HonestyWorkload.record(Self.requestCount, in: dir)
            let baseline = try RunningBidder.threadingBidder()
            defer { baseline.stop() }
            let candidate = try RunningBidder.threadingBidder()
            defer { candidate.stop() }
            let replay = try Harness.run(Harness.shadowdiff, [
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "aa",
            ] + timing)
            #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
            #expect(replay.stdout.contains("replayed \(Self.requestCount) requests"), "\(replay.stdout)")
            #expect(replay.stdout.components(separatedBy: "errors: none").count == 3, "errors on a side: \(replay.stdout)")
            let lanes = timing[0] == "--rate" ? 64 : Int(timing[1])!
            #expect(replay.stdout.components(separatedBy: "connections \(lanes)/\(lanes) ready before the clock").count == 3,
                    "\(replay.stdout)")
            let errors = try HonestyWorkload.sql(db, "SELECT count(*) FROM results WHERE error IS NOT NULL")
            #expect(errors == "0")
            let diff = try Harness.run(Harness.shadowdiff, ["diff", "--db", db, "--run", "aa"])
            #expect(diff.status == 0, "an A/A run must pass: \(diff.stdout)\(diff.stderr)")
        }
    }

    /// A candidate that never answers 1% of requests (chosen by id): the error gate fails, the
    /// mismatch gate passes (the pairs where it failed are judged as errors, not as decisions), and
    /// every output says which.
    @Test func aCandidateTimingOutOnOnePercentFailsTheErrorGateOnly() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let requests = 2000
            let db = try HonestyWorkload.record(requests, in: dir)
            let ids = try HonestyWorkload.sql(db, "SELECT json_extract(CAST(request_body AS TEXT), '$.id') FROM exchange_bodies")
                .split(separator: "\n").map(String.init)
            let held = ids.filter { HonestyWorkload.chosen(requestID: $0, salt: "timeout", percent: 1) }.count
            // 1% of 2,000 is 20; the workload is seeded, so this is the same on every run.
            try #require(held >= 15, "the workload must hold about 1% timeouts, has \(held)")
            let baseline = try RunningBidder.threadingBidder()
            defer { baseline.stop() }
            let candidate = try RunningBidder.threadingBidder(["--timeout-percent", "1"])
            defer { candidate.stop() }
            let replay = try Harness.run(Harness.shadowdiff, [
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "t",
                "--concurrency", "16", "--timeout-ms", "300",
            ])
            #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
            #expect(replay.stdout.contains("errors: timeout \(held)"), "\(replay.stdout)")
            let json = dir + "/t.json", html = dir + "/t.html", markdown = dir + "/t.md", junit = dir + "/t.xml"
            let diff = try Harness.run(Harness.shadowdiff, ["diff", "--db", db, "--run", "t", "--json", json])
            #expect(diff.status == 1, "the error gate must fail: \(diff.stdout)")
            #expect(diff.stdout.contains("  pass  mismatch rate"), "\(diff.stdout)")
            #expect(diff.stdout.contains("  FAIL  error rate"), "\(diff.stdout)")
            #expect(diff.stdout.contains("timeout              candidate \(held) "), "\(diff.stdout)")
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
            let summary = try #require(report?["diff"] as? [String: Any])
            #expect(summary["pairs"] as? Int == requests - held && summary["mismatched"] as? Int == 0)
            #expect(summary["errorPairs"] as? Int == held)
            let verdict = try #require(summary["errorVerdict"] as? [String: Any])
            #expect(verdict["regressed"] as? Bool == true)
            let gates = try #require(summary["gates"] as? [[String: Any]])
            #expect(gates.first { $0["name"] as? String == "mismatch rate" }?["passed"] as? Bool == true)
            #expect(gates.first { $0["name"] as? String == "error rate" }?["passed"] as? Bool == false)

            let out = try Harness.run(Harness.shadowdiff, [
                "report", "--db", db, "--run", "t", "--html", html, "--markdown", markdown, "--junit", junit,
            ])
            #expect(out.status == 1, "\(out.stdout)\(out.stderr)")
            let page = try String(contentsOfFile: html, encoding: .utf8)
            #expect(page.contains("<th>error kind</th>") && page.contains("regressed"))
            let md = try String(contentsOfFile: markdown, encoding: .utf8)
            #expect(md.contains("failed error rate") && md.contains("| timeout | 0 | \(held) |"), "\(md)")
            let xml = try String(contentsOfFile: junit, encoding: .utf8)
            #expect(xml.contains("<testsuite name=\"shadowdiff.errors\"") && xml.contains("timeout: regressed"), "\(xml)")
        }
    }
}
