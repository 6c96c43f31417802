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
            var latency: [String: Latency]
            var gates: [Gate]
            var passed: Bool
        }
        struct Kind: Decodable { var kind: String; var count: Int; var exchanges: Int }
        struct Group: Decodable { var endpoint: String; var kind: String; var field: String; var count: Int }
        struct Latency: Decodable { var count: Int; var p50Ns: Int?; var p99Ns: Int? }
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
            let replay = try Harness.shadowdiff(
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "demo", "--concurrency", "4")
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.contains("replayed 104 requests"))

            let json = dir + "/report.json"
            let diff = try Harness.shadowdiff("diff", "--db", db, "--run", "demo", "--json", json)
            #expect(diff.status == 1, "the candidate's differences cross the gates: \(diff.stdout)\(diff.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: json))).diff

            #expect(report.pairs == 104 && report.incomplete == 0)
            #expect(report.mismatched == 60 && report.matched == 44)
            #expect(report.errors.isEmpty)
            let kinds = Dictionary(uniqueKeysWithValues: report.kinds.map { ($0.kind, ($0.count, $0.exchanges)) })
            #expect(kinds.count == 3, "only the documented kinds: \(kinds)")
            #expect(kinds["price"].map { [$0.0, $0.1] } == [28, 24], "(a) lower video price")
            #expect(kinds["decision"].map { [$0.0, $0.1] } == [12, 8], "(b) no-bid for the excluded publisher")
            #expect(kinds["crid"].map { [$0.0, $0.1] } == [32, 32], "(c) new 300x250 creative")
            #expect(Set(report.groups.map(\.field)) == ["bid.price", "bid", "bid.crid"])
            #expect(report.groups.allSatisfy { $0.endpoint == "POST /openrtb2/auction" })

            // (d) requests 01, 03, 04, 13, 20 and 23 (24 exchanges) are answered 40 ms later by the candidate.
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
            #expect(slowed.stdout == "24|24\n", "every slowed request took at least 40 ms on the candidate")
            #expect(report.latency["baseline"]?.count == 104 && report.latency["candidate"]?.count == 104)
            #expect((report.latency["candidate"]?.p99Ns ?? 0) >= 40_000_000)
            #expect(report.gates.map(\.name) == ["mismatch rate", "p99 regression"])
            #expect(report.gates.map(\.passed) == [false, false])
            #expect(!report.passed)
            #expect(diff.stdout.contains("verdict: FAIL"))
        }
    }

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
                                              "--min-p99-regression-ms", "50")
            #expect(diff.status == 0, "\(diff.stdout)")
            let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: json))).diff
            #expect(report.pairs == 104 && report.mismatched == 0 && report.kinds.isEmpty)
        }
    }
}
