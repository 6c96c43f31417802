import Foundation
import Testing

/// The demo's loop on the committed capture finds exactly the candidate's documented differences
/// (fixtures/README.md, "Expected counts") and nothing from the random id and timestamp fields.
@Suite struct DemoLoopTests {
    struct Report: Decodable {
        struct Diff: Decodable {
            var pairs: Int
            var matched: Int
            var mismatched: Int
            var incomplete: Int
            var kinds: [Kind]
            var groups: [Group]
            var errors: [String: [String: Int]]
            var latency: Latency
            var gates: [Gate]
            var passed: Bool
        }
        struct Kind: Decodable { var kind: String; var count: Int; var exchanges: Int }
        struct Group: Decodable {
            var endpoint: String
            var kind: String
            var field: String
            var count: Int
            var exchanges: Int
            var examples: [Example]
        }
        struct Example: Decodable { var exchange: Int; var pass: Int }
        struct Latency: Decodable {
            struct Endpoint: Decodable { var endpoint: String; var pairs: Int; var regressed: Bool }
            var overall: Endpoint?
            var regressed: Bool
        }
        struct Gate: Decodable { var name: String; var passed: Bool }
        var diff: Diff
    }

    @Test func captureReplayDiffFindsTheDocumentedDifferences() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/demo.db"
            let capture = try Harness.shadowdiff("capture", "--pcap", Harness.root + "/captures/sample.pcap", "--db", db)
            #expect(capture.status == 0, "\(capture.stderr)")
            #expect(capture.stdout.contains("exchanges stored 104"), "\(capture.stdout)")

            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            // 40 ms instead of the default 5 so that the regression stands clear of the noise of
            // other tests running at the same time on a 2-core machine.
            let candidate = try RunningBidder(build: "candidate", arguments: ["--slow-ms", "40"])
            defer { candidate.stop() }
            // Ten passes over the 104 exchanges: p99 needs at least 1,000 pairs to be judged.
            let replay = try Harness.shadowdiff(
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "demo", "--concurrency", "4",
                "--loop", "--limit", "1040")
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.contains("replayed 1040 requests"))

            let json = dir + "/report.json"
            let diff = try Harness.shadowdiff("diff", "--db", db, "--run", "demo", "--json", json)
            #expect(diff.status == 1, "the candidate's differences cross the gates: \(diff.stdout)\(diff.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: json))).diff

            #expect(report.pairs == 1040 && report.incomplete == 0)
            #expect(report.mismatched == 600 && report.matched == 440)
            #expect(report.errors.isEmpty)
            let groups = Dictionary(uniqueKeysWithValues: report.groups.map { ($0.field, [$0.count, $0.exchanges]) })
            #expect(groups.count == 3, "only the documented differences: \(groups)")
            #expect(groups["/imp/*/price"] == [280, 240], "(a) lower video price")
            #expect(groups["/imp/*/bid"] == [120, 80], "(b) no-bid for the excluded publisher")
            #expect(groups["/imp/*/crid"] == [320, 320], "(c) new 300x250 creative")
            #expect(report.groups.first { $0.field == "/imp/*/bid" }?.kind == "decision")
            #expect(report.kinds.map(\.kind) == ["decision", "field"])
            #expect(report.groups.allSatisfy { $0.endpoint == "POST /openrtb2/auction" })

            // (d) requests 01, 03, 04, 13, 20 and 23 (24 exchanges, 240 pairs) are answered 40 ms later by the candidate.
            let slowedIDs = try ["01", "03", "04", "13", "20", "23"].map { prefix in
                let dir = Harness.root + "/fixtures/requests"
                let file = try #require(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix(prefix + "-") })
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))) as? [String: Any]
                return try #require(json?["id"] as? String)
            }
            let list = slowedIDs.map { "'\($0)'" }.joined(separator: ",")
            let slowed = try Harness.run("/usr/bin/sqlite3", [db, """
                SELECT count(*), sum(p.candidate_latency_ns >= 40000000) FROM result_pairs p
                JOIN exchange_bodies b ON b.exchange_id = p.exchange_id
                WHERE p.run = 'demo' AND json_extract(CAST(b.request_body AS TEXT), '$.id') IN (\(list))
                """])
            #expect(slowed.stdout == "240|240\n", "every slowed request took at least 40 ms on the candidate")
            #expect(report.latency.overall?.pairs == 1040 && report.latency.overall?.regressed == true && report.latency.regressed)
            #expect(report.gates.map(\.name) == ["mismatch rate", "error rate", "latency p50", "latency p99"])
            #expect(report.gates[0].passed == false && report.gates[1].passed && report.gates[3].passed == false)
            #expect(!report.passed)
            #expect(diff.stdout.contains("verdict: FAIL"))

            try reviewCommands(db: db, dir: dir, priceExample: try #require(
                report.groups.first { $0.field == "/imp/*/price" }?.examples.first))
        }
    }

    /// `report`, `runs` and `show` on the demo run: what a reviewer sees after the diff.
    private func reviewCommands(db: String, dir: String, priceExample: Report.Example) throws {
        let html = dir + "/demo.html", markdown = dir + "/demo.md", junit = dir + "/demo.xml"
        let report = try Harness.shadowdiff("report", "--db", db, "--run", "demo", "--html", html, "--markdown", markdown, "--junit", junit)
        #expect(report.status == 1 && report.stdout.contains("verdict: FAIL"), "\(report.stdout)\(report.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("Do not ship") && page.contains("/imp/*/price") && page.contains("<svg"))
        #expect(page.contains("class=\"d\""), "differences are marked in the side-by-side examples")
        let md = try String(contentsOfFile: markdown, encoding: .utf8)
        #expect(md.contains("/imp/\\*/price") || md.contains("/imp/*/price"), "\(md)")
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("<testsuites") && xml.contains("failures="))

        let runs = try Harness.shadowdiff("runs", "--db", db)
        #expect(runs.status == 0)
        #expect(runs.stdout.contains("demo") && runs.stdout.contains("FAIL (mismatch rate"), "\(runs.stdout)")

        let show = try Harness.shadowdiff("show", "--db", db, "--run", "demo", String(priceExample.exchange), "--pass", String(priceExample.pass))
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("candidate  field /imp/*/price"), "\(show.stdout)")
        #expect(show.stdout.split(separator: "\n").contains { $0.hasPrefix("» ") && $0.contains("\"price\"") }, "the price lines are marked")
        let missing = try Harness.shadowdiff("show", "--db", db, "--run", "demo", "999999")
        #expect(missing.status == 2 && missing.stderr.contains("did not replay exchange 999999"), "\(missing.stderr)")
    }

    /// About decisions: latency gates are opened wide (104 pairs on a shared 2-core machine move
    /// p50 by over 0.5 ms now and then; VerdictHonestyTests judge A/A latency on 20 runs).
    @Test func baselineAgainstItselfShowsNoDifference() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/aa.db"
            #expect(try Harness.shadowdiff("capture", "--pcap", Harness.root + "/captures/sample.pcap", "--db", db).status == 0)
            let a = try RunningBidder(build: "baseline")
            defer { a.stop() }
            let b = try RunningBidder(build: "baseline")
            defer { b.stop() }
            #expect(try Harness.shadowdiff("replay", "--db", db, "--baseline", a.url, "--candidate", b.url, "--run", "aa").status == 0)
            let json = dir + "/aa.json"
            let diff = try Harness.shadowdiff("diff", "--db", db, "--run", "aa", "--json", json, "--max-p99-regression", "1",
                                              "--min-p99-regression-ms", "50", "--max-p50-regression", "1",
                                              "--min-p50-regression-ms", "50")
            #expect(diff.status == 0, "\(diff.stdout)")
            let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: json))).diff
            #expect(report.pairs == 104 && report.mismatched == 0 && report.kinds.isEmpty)
        }
    }
}
