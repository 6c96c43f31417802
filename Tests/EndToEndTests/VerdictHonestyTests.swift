import Foundation
import Testing

/// Verdict honesty: the diff's verdicts on fixture bidders whose behaviour is known, checked only
/// where the outcome is certain on correct code. Rates that depend on chance (how often an A/A run
/// falsely says latency regressed, how often a +1 ms shift on 10% of requests is caught) are
/// measured by `bench/diff-honesty.sh RUNS REQUESTS` and reported in bench/RESULTS.md, not gated
/// here: a test that fails one run in twenty on correct code (the former A/A latency check allowed
/// 1 false verdict in 20 runs: at a 5% false-verdict rate that fails 26% of test runs) makes CI red
/// for work that is right.
///
/// - A/A: the baseline build against a second instance of itself (a third as `--secondary`): no
///   run may show a candidate difference after noise rules, with `--rules openrtb` and with
///   `--rules json` (where the per-response noise fields, `bidid`, bid `id` and `ext.ts`, differ
///   between instances and must be reported as noise). The bidders' decisions are pure functions
///   of the request body, so any difference is a defect, never chance.
/// - Injected latency: the candidate answers 20% of requests 20 ms later; the verdict must say
///   latency regressed (why that cannot fail by chance: `twentyMillisecondsOnTwentyPercentIsDetected`).
/// - Injected flips: the candidate answers 0.1% of requests no-bid (`--flip-percent 0.1`); the
///   exchanges where that flips a bid, computed here from the request ids, must be exactly the
///   decision mismatches the diff reports and lists.
///
/// Every test records its workload the same way: `fixtures/make_bid_requests.py` writes distinct
/// bid requests (seeded: the same ones on every test run) and POSTs them to `shadowdiff capture
/// mirror`; every run replays all of them once.
@Suite(.serialized) struct VerdictHonestyTests {
    /// Requests per run in the A/A and the injected-latency runs.
    static let requestCount = 1000
    /// Requests in the flip test's single run: 0.1% of them is a handful of flips.
    static let flipRequestCount = 3000
    /// Seeded A/A runs (each with its own send order).
    static let runCount = 3

    @Test func baselineAgainstItselfShowsNoCandidateDifference() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try HonestyWorkload.record(Self.requestCount, in: dir)
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let candidate = try RunningBidder(build: "baseline")
            defer { candidate.stop() }
            let secondary = try RunningBidder(build: "baseline")
            defer { secondary.stop() }

            for seed in 1...Self.runCount {
                let run = "aa-\(seed)"
                try HonestyWorkload.replay(db: db, run: run, seed: seed, requests: Self.requestCount, baseline: baseline, candidate: candidate, secondary: secondary)
                let openrtb = try HonestyWorkload.diff(db: db, run: run, seed: seed, dir: dir, ["--rules", "openrtb"])
                #expect(openrtb.pairs == Self.requestCount, "run \(run)")
                #expect(openrtb.groups.isEmpty, "A/A run \(run), openrtb rules: candidate differences \(openrtb.groups.summary)")
                let json = try HonestyWorkload.diff(db: db, run: run, seed: seed, dir: dir, ["--rules", "json"])
                #expect(json.pairs == Self.requestCount, "run \(run)")
                #expect(json.groups.isEmpty, "A/A run \(run), json rules: candidate differences \(json.groups.summary)")
                // bidid, every bid id and ext.ts differ between any two answers: noise, seen on the secondary too.
                #expect(json.noisyGroups.contains { $0.field.contains("bidid") },
                        "A/A run \(run), json rules: the random bidid must be reported as noise: \(json.noisyGroups.summary)")
            }
        }
    }

    /// +20 ms on 20% of 1,000 requests (chosen by request id) must be called a regression at the
    /// p95 gate (max(5%, 0.15 ms)). Why this cannot fail by chance on correct code:
    /// - The fixture sleeps at least 20 ms on each chosen request (a sleep never ends early), so
    ///   200 candidate answers take at least 20 ms (checked: `checkInjectedDelays`). A percentile
    ///   below the 80th of a sample more than 5% of which is at least 20 ms is itself at least
    ///   20 ms, so the candidate's p95 is; in a bootstrap resample it is unless fewer than 5% of the
    ///   drawn pairs are delayed: a Binomial(1000, 0.2) count under 50, probability about 1e-40
    ///   per resample, 1e-37 over the 1,000 resamples.
    /// - The lower bound of Δp95 then falls under 0.15 ms only if the baseline's own p95 reaches
    ///   19.85 ms in 2.5% of resamples, i.e. if about 4% of the baseline's answers (which take
    ///   about 0.5 ms) took 40 times as long. Requests go to both sides at once, one at a time, so
    ///   a machine stall of that size would delay the candidate's answers alike and would have to
    ///   hit 40 of 1,000 requests; the worst A/A runs on this machine stalled under 3% of requests
    ///   by 2 to 10 ms (bench/RESULTS.md), and the test's run fails loudly with those figures if
    ///   the machine is ever that broken.
    /// The detection rate of the smaller effect (+1 ms on 10%) is bench/diff-honesty.sh's.
    @Test func twentyMillisecondsOnTwentyPercentIsDetected() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try HonestyWorkload.record(Self.requestCount, in: dir)
            let gates = try Self.writeLatencyGates(in: dir)
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let candidate = try RunningBidder(build: "baseline", arguments: ["--inject-delay-us", "20000", "--inject-percent", "20"])
            defer { candidate.stop() }
            let run = "slow"
            try HonestyWorkload.replay(db: db, run: run, seed: 1, requests: Self.requestCount, baseline: baseline, candidate: candidate, secondary: nil)
            try Self.checkInjectedDelays(db: db, run: run)
            let report = try HonestyWorkload.diff(db: db, run: run, seed: 1, dir: dir, ["--rules-file", gates])
            #expect(report.pairs == Self.requestCount, "run \(run)")
            #expect(report.groups.isEmpty, "the delay changes no decision: \(report.groups.summary)")
            let p95 = report.latency.overall.gates.first { $0.gate.percentile == "p95" }
            #expect(p95?.regressed == true, "+20 ms on 20% of requests not detected at p95: Δp95 \(Self.ms(p95?.estimateNs)) low \(Self.ms(p95?.lowNs))")
            #expect(report.latency.overall.regressed)
        }
    }

    static func ms(_ ns: Double?) -> String { ns.map { String(format: "%.2f ms", $0 / 1e6) } ?? "-" }

    /// The latency gates bench/diff-honesty.sh judges too: p50 at its default, p95 at
    /// max(5%, 0.15 ms), p99 at max(5%, 0.25 ms).
    static func writeLatencyGates(in dir: String) throws -> String {
        let path = dir + "/latency-gates.yaml"
        try """
            gates:
              latency:
                - {percentile: 50, relative: 0.05, absolute_ms: 0.5}
                - {percentile: 95, relative: 0.05, absolute_ms: 0.15}
                - {percentile: 99, relative: 0.05, absolute_ms: 0.25}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func injectedDecisionFlipsAreAllFoundAndListed() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try HonestyWorkload.record(Self.flipRequestCount, in: dir)
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let candidate = try RunningBidder(build: "baseline", arguments: ["--flip-percent", "0.1"])
            defer { candidate.stop() }
            let secondary = try RunningBidder(build: "baseline")
            defer { secondary.stop() }
            let run = "flips"
            try HonestyWorkload.replay(db: db, run: run, seed: 1, requests: Self.flipRequestCount, baseline: baseline, candidate: candidate, secondary: secondary)

            // Which exchanges the candidate flips, from the request ids alone, kept where the baseline bid.
            let answers = try HonestyWorkload.baselineAnswers(db: db, run: run)
            #expect(answers.count == Self.flipRequestCount)
            let flipped = answers.filter { $0.bids > 0 && HonestyWorkload.chosen(requestID: $0.requestID, salt: "flip", percent: 0.1) }
            let expected = Set(flipped.map(\.exchange))
            let expectedBids = flipped.reduce(0) { $0 + $1.bids }
            try #require(!expected.isEmpty, "the workload must contain flipped bids to find")
            // The fixture did what it says: the candidate answered 204 to a 200 of the baseline exactly there.
            let candidateNoBids = try HonestyWorkload.sql(db, """
                SELECT b.exchange_id FROM results b JOIN results c USING (run_id, pass, exchange_id) JOIN runs ON runs.id = b.run_id
                WHERE runs.name = '\(run)' AND b.side = 'baseline' AND c.side = 'candidate' AND b.warmup = 0
                  AND b.status = 200 AND c.status = 204 ORDER BY 1
                """).split(separator: "\n").compactMap { Int64($0) }
            #expect(Set(candidateNoBids) == expected, "fixture-bidder --flip-percent 0.1 answered 204 where predicted")

            let report = try HonestyWorkload.diff(db: db, run: run, seed: 1, dir: dir, [
                "--rules", "openrtb", "--examples", "10000",
            ])
            #expect(report.pairs == Self.flipRequestCount)
            let decisions = report.groups.filter { $0.kind == "decision" }
            #expect(report.groups.count == decisions.count, "nothing but the flips differs: \(report.groups.summary)")
            #expect(decisions.map(\.field) == ["/imp/*/bid"], "\(report.groups.summary)")
            let listed = Set(decisions.flatMap { $0.examples.map(\.exchange) })
            let found = decisions.reduce(0) { $0 + $1.exchanges }
            let count = decisions.reduce(0) { $0 + $1.count }
            print("verdict honesty, flips: \(listed.intersection(expected).count) of \(expected.count) flipped exchanges listed (\(expectedBids) bids)")
            #expect(listed == expected, "listed \(listed.sorted()), expected \(expected.sorted())")
            #expect(found == expected.count, "decision mismatches in \(found) exchanges, expected \(expected.count)")
            #expect(count == expectedBids, "one decision mismatch per flipped bid: \(count), expected \(expectedBids)")
            #expect(report.noisyGroups.allSatisfy { $0.kind != "decision" }, "no flip is taken for noise: \(report.noisyGroups.summary)")
        }
    }

    /// The replay saw the injected delay where the fixture says it puts it: every request chosen
    /// by `"<id>#delay"` came back at least 20 ms after it was sent to the candidate (a sleep never
    /// ends early), and about 20% of requests were chosen.
    private static func checkInjectedDelays(db: String, run: String) throws {
        let rows = try HonestyWorkload.sql(db, """
            SELECT json_extract(CAST(e.request_body AS TEXT), '$.id'), c.latency_ns
            FROM results c JOIN runs ON runs.id = c.run_id JOIN exchange_bodies e ON e.exchange_id = c.exchange_id
            WHERE runs.name = '\(run)' AND c.side = 'candidate' AND c.warmup = 0
            """).split(separator: "\n").map { $0.split(separator: "|") }
        var delayed: [Int64] = []
        for row in rows where row.count == 2 {
            guard let latency = Int64(row[1]) else { continue }
            if HonestyWorkload.chosen(requestID: String(row[0]), salt: "delay", percent: 20) { delayed.append(latency) }
        }
        #expect(rows.count == requestCount)
        #expect(abs(delayed.count - requestCount / 5) < requestCount / 20, "about 20% chosen: \(delayed.count)")
        #expect(delayed.allSatisfy { $0 >= 20_000_000 }, "delayed answers under 20 ms: \(delayed.filter { $0 < 20_000_000 })")
    }
}

/// The workload and the steps every honesty test takes: record, replay, diff.
enum HonestyWorkload {
    /// The generator's seed: the same requests on every test run.
    static let seed = 20_250

    /// Generates `count` distinct bid requests and records them through `shadowdiff capture
    /// mirror` into `dir/honesty.db`; returns the database's path.
    static func record(_ count: Int, in dir: String) throws -> String {
        let db = dir + "/honesty.db"
        let (sink, port) = try TeeCaptureTests.startTee(["mirror", "--db", db])
        defer { _ = sink.stop(SIGKILL) }
        let post = try Harness.run("/usr/bin/python3", [
            Harness.root + "/fixtures/make_bid_requests.py", String(count), String(seed),
            "--post", "http://127.0.0.1:\(port)/openrtb2/auction",
        ])
        try #require(post.status == 0, "make_bid_requests.py: \(post.stderr)")
        try #require(sink.stop(SIGTERM) == 0, "\(sink.stderr)")
        try #require(sink.stdout.contains("exchanges stored \(count)"), "\(sink.stdout)")
        let distinct = try sql(db, "SELECT count(DISTINCT json_extract(CAST(request_body AS TEXT), '$.id')) FROM exchange_bodies")
        try #require(distinct == String(count), "\(distinct) distinct request ids")
        return db
    }

    /// Requests in flight during a replay (`--concurrency`). One keeps the bidders and the replayer
    /// from queueing behind each other on the 2 cores: measured on the shared machine (loaded by
    /// other work), paired answer-time differences between two baseline instances spread about
    /// ±0.8 ms (10th to 90th percentile) at 1, ±1.3 ms at 2 and ±6 to ±15 ms at 8, and the
    /// replay was no slower at 1: it is CPU-bound either way.
    static let concurrency = 1

    /// `shadowdiff replay` of all `requests` recorded requests to the three bidders as run `run`.
    static func replay(db: String, run: String, seed: Int, requests: Int, baseline: RunningBidder,
                       candidate: RunningBidder, secondary: RunningBidder?) throws {
        let out = try Harness.run(Harness.shadowdiff, [
            "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url,
        ] + (secondary.map { ["--secondary", $0.url] } ?? []) + [
            "--run", run, "--concurrency", String(concurrency), "--seed", String(seed),
        ])
        try #require(out.status == 0, "replay \(run): \(out.stdout)\(out.stderr)")
        try #require(out.stdout.contains("replayed \(requests) requests"), "\(out.stdout)")
    }

    /// `shadowdiff diff --db DB --run RUN --json FILE --seed SEED FLAGS...`, read back from its JSON report.
    static func diff(db: String, run: String, seed: Int, dir: String, _ flags: [String]) throws -> HonestyReport.Diff {
        let json = dir + "/\(run).json"
        let out = try Harness.run(Harness.shadowdiff, [
            "diff", "--db", db, "--run", run, "--json", json, "--seed", String(seed),
        ] + flags)
        try #require(out.status == 0 || out.status == 1, "diff \(run) \(flags): exit \(out.status): \(out.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: json))
        do {
            return try JSONDecoder().decode(HonestyReport.self, from: data).diff
        } catch {
            Issue.record("diff \(run): the JSON report lacks what the honesty tests read: \(error)")
            throw error
        }
    }

    struct BaselineAnswer {
        var exchange: Int64
        var requestID: String
        var status: Int?
        /// Bids in the baseline's answer (0 for no bid).
        var bids: Int
    }

    /// Each exchange of the run with its request id and the baseline's answer.
    static func baselineAnswers(db: String, run: String) throws -> [BaselineAnswer] {
        try sql(db, """
            SELECT r.exchange_id, json_extract(CAST(e.request_body AS TEXT), '$.id'), coalesce(r.status, ''),
                   CASE WHEN r.status = 200 AND json_valid(CAST(rb.body AS TEXT))
                        THEN (SELECT coalesce(sum(json_array_length(s.value, '$.bid')), 0)
                              FROM json_each(CAST(rb.body AS TEXT), '$.seatbid') s)
                        ELSE 0 END
            FROM results r JOIN runs ON runs.id = r.run_id
            JOIN exchange_bodies e ON e.exchange_id = r.exchange_id
            JOIN result_bodies rb ON rb.run_id = r.run_id AND rb.pass = r.pass AND rb.exchange_id = r.exchange_id AND rb.side = r.side
            WHERE runs.name = '\(run)' AND r.side = 'baseline' AND r.warmup = 0
            ORDER BY r.exchange_id
            """).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false)
            guard fields.count == 4, let exchange = Int64(fields[0]), let bids = Int(fields[3]) else { return nil }
            return BaselineAnswer(exchange: exchange, requestID: String(fields[1]), status: Int(fields[2]), bids: bids)
        }
    }

    /// Whether fixture-bidder's injection `salt` (`delay` or `flip`) at `percent` chooses the request
    /// with this id: FNV-1a-64 of UTF-8 `"<id>#<salt>"`, modulo 100,000, below round(percent × 1000)
    /// (fixtures/README.md, "Injected faults"). Written here independently of the fixture's code.
    static func chosen(requestID: String, salt: String, percent: Double) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(requestID)#\(salt)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash % 100_000 < UInt64((percent * 1000).rounded())
    }

    static func sql(_ db: String, _ query: String) throws -> String {
        let out = try Harness.run("/usr/bin/sqlite3", [db, query])
        try #require(out.status == 0, "sqlite3: \(out.stderr)")
        return out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The parts of `shadowdiff diff --json`'s report the honesty tests read (docs/REPORT.md).
struct HonestyReport: Decodable {
    struct Diff: Decodable {
        var pairs: Int
        /// Significant candidate differences (not explained by baseline-vs-secondary noise).
        var groups: [Group]
        /// Differences explained by noise.
        var noisyGroups: [Group]
        var latency: Latency
    }

    struct Group: Decodable {
        var endpoint: String
        var kind: String
        var field: String
        var count: Int
        var exchanges: Int
        var examples: [Example]
    }

    struct Example: Decodable {
        var exchange: Int64
        var impression: String?
    }

    struct Latency: Decodable {
        var overall: Verdict
        var endpoints: [EndpointVerdict]
    }

    struct Verdict: Decodable {
        struct Analysis: Decodable {
            struct Wilcoxon: Decodable { var pValueGreater: Double }
            var wilcoxon: Wilcoxon
        }
        struct Gate: Decodable {
            struct Limit: Decodable { var percentile: String }
            var gate: Limit
            var regressed: Bool
            var estimateNs: Double?
            var lowNs: Double?
        }
        var regressed: Bool
        var gates: [Gate]
        var analysis: Analysis

        /// The percentile labels of the gates that regressed, e.g. ["p95", "p99"].
        var regressedGates: [String] { gates.filter(\.regressed).map(\.gate.percentile) }
    }

    struct EndpointVerdict: Decodable {
        var endpoint: String
        var regressed: Bool
    }

    var diff: Diff
}

extension [HonestyReport.Group] {
    /// `endpoint kind field: count in exchanges`, for failure messages.
    var summary: String {
        isEmpty ? "none" : map { "\($0.endpoint) \($0.kind) \($0.field): \($0.count) in \($0.exchanges)" }.joined(separator: "; ")
    }
}
