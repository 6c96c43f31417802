import Foundation
import ShadowCore
import Testing

/// SIGKILL at random moments, 20 times each, of `capture --pcap`, `capture proxy` and `replay`.
///
/// After every kill the database passes `PRAGMA integrity_check` and holds at least what the
/// killed process last reported committed on stderr; then `capture --resume`, the next proxy and
/// `replay --resume` carry on without storing anything twice or losing anything. The kill moments
/// come from a seeded generator whose seed is printed; CRASH_SEED=N repeats them.
@Suite(.serialized) struct CrashSafetyTests {
    typealias SQL = LiveInterfaceCaptureTests
    static let kills = 20

    @Test func killedPcapImportsResumeToExactlyTheCleanImport() async throws {
        var clock = Self.killClock("capture")
        try await Harness.withTemporaryDirectory { dir in
            let pcap = dir + "/repeated.pcap"
            try Harness.repeatedSample(rounds: 40).write(to: URL(fileURLWithPath: pcap))
            // Small transactions and frequent progress lines, so that kills fall between many commits.
            let flags = ["--batch-size", "50", "--progress-interval", "0.02"]
            // The faster of two clean imports: a cold first run would put most kill moments after the end.
            var cleanSeconds = Double.infinity
            for name in ["clean", "clean-again"] {
                let started = Date()
                let clean = try Harness.run(Harness.shadowdiff, ["capture", "--pcap", pcap, "--db", dir + "/\(name).db"] + flags)
                cleanSeconds = min(cleanSeconds, Date().timeIntervalSince(started))
                try #require(clean.status == 0, "\(clean.stderr)")
            }
            let expected = try Self.exchangeDigests(dir + "/clean.db")
            let expectedCounters = try Self.captureCounters(dir + "/clean.db")
            try #require(expected.count == 40 * 104)

            var kills = 0, midway = 0, resumed = 0, rounds = 0, afterCommit = 0
            while kills < Self.kills {
                rounds += 1
                try #require(rounds <= 200, "the imports keep ending before their kill")
                let db = dir + "/killed-\(rounds).db"
                var resume = false
                // One capture, killed and resumed until a session completes it.
                while true {
                    let command = ["capture", "--pcap", pcap, "--db", db] + flags + (resume ? ["--resume"] : [])
                    if kills == Self.kills {
                        let last = try Harness.run(Harness.shadowdiff, command)
                        #expect(last.status == 0, "\(last.stderr)")
                        break
                    }
                    let session = try KilledSession(command, after: .random(in: 0...(cleanSeconds * 0.9), using: &clock))
                    guard session.wasKilled else {
                        try #require(session.status == 0, "\(session.stderr)")
                        break
                    }
                    kills += 1
                    guard FileManager.default.fileExists(atPath: db) else { continue }
                    try Self.expectIntact(db, "capture kill \(kills)")
                    // Killed before the schema was made: the next import starts afresh.
                    guard try Self.int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'exchanges'") == 1 else { continue }
                    let stored = try Self.int(db, "SELECT count(*) FROM exchanges")
                    #expect(stored >= session.lastCommitted, "capture kill \(kills): \(stored) stored, \(session.lastCommitted) reported committed")
                    if session.lastCommitted > 0 { afterCommit += 1 }
                    if stored > 0 && stored < expected.count { midway += 1 }
                    let list = try Harness.shadowdiff("captures", "--db", db).stdout
                    if list.contains("capture 1  pcap \(pcap)  complete") { break }
                    resume = list.contains("capture 1  pcap \(pcap)  interrupted")
                    #expect(resume || list.isEmpty, "killed before or during the import: \(list)")
                    if resume { resumed += 1 }
                }
                Self.expectSameExchanges(try Self.exchangeDigests(db), expected, "capture round \(rounds)")
                #expect(try Self.captureCounters(db) == expectedCounters, "capture round \(rounds): counters differ from the clean import's")
            }
            print("""
                CrashSafetyTests.capture: \(kills) kills (\(afterCommit) after a reported commit, \(midway) mid-import) over \(rounds) \
                captures of \(expected.count) exchanges, \(resumed) resumes, each capture the clean import's
                """)
            #expect(midway >= 3, "too few kills fell mid-import to test resuming (\(midway) of \(kills))")
        }
    }

    @Test func killedProxiesKeepWhatTheyCommittedAndTheNextProxyCarriesOn() async throws {
        var clock = Self.killClock("proxy")
        try await Harness.withTemporaryDirectory { dir in
            let bidder = try RunningBidder(build: "baseline")
            defer { bidder.stop() }
            let db = dir + "/proxy.db"
            let proxyFlags = ["proxy", "--upstream", bidder.url, "--db", db, "--progress-interval", "0.05"]
            var storedTotal: Int64 = 0, afterCommit = 0, spooledAtKill: Int64 = 0
            var reported: [Int64] = []
            /// After the next proxy started (it expands what the killed one left spooled): the killed
            /// capture `round` holds at least what it reported committed, each exchange whole.
            func checkKilled(_ round: Int) throws {
                #expect(try SQL.sql(db, "SELECT status FROM captures WHERE id = \(round)") == "interrupted",
                        "the new proxy marks the killed one interrupted")
                #expect(try Self.int(db, "SELECT count(*) FROM spooled_exchanges WHERE capture_id = \(round)") == 0,
                        "the new proxy expanded what the killed one spooled")
                let stored = try Self.int(db, "SELECT count(*) FROM exchanges WHERE capture_id = \(round)")
                #expect(stored >= reported[round - 1], "proxy kill \(round): \(stored) stored, \(reported[round - 1]) reported committed")
                let whole = try Self.int(db, """
                    SELECT count(*) FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id
                    WHERE e.capture_id = \(round) AND e.prod_status IS NOT NULL AND e.prod_error IS NULL AND b.prod_body IS NOT NULL
                      AND CAST(b.request_body AS TEXT) LIKE '{"id":"k\(round)-%"}'
                    """)
                #expect(whole == stored, "proxy kill \(round): every stored exchange has its request and production's response")
                storedTotal += stored
            }
            for round in 1...Self.kills {
                let (proxy, port) = try TeeCaptureTests.startTee(proxyFlags)
                if round > 1 { try checkKilled(round - 1) }
                let load = try Self.startLoad(url: "http://127.0.0.1:\(port)/openrtb2/auction", ids: (0..<5000).map { "k\(round)-\($0)" }, in: dir)
                // The tee commits about every 20 ms: kill between 0.3 and 3 s, mid-run, while spooling and expanding.
                usleep(UInt32(Double.random(in: 0.3...3, using: &clock) * 1e6))
                _ = proxy.stop(SIGKILL)
                Harness.reap(load, within: 0)
                #expect(proxy.process.terminationReason == .uncaughtSignal, "proxy \(round) ended by itself: \(proxy.stderr)")
                try Self.expectIntact(db, "proxy kill \(round)")
                let kept = try Self.int(db, """
                    SELECT (SELECT count(*) FROM exchanges WHERE capture_id = \(round))
                         + (SELECT coalesce(sum(records), 0) FROM spooled_exchanges WHERE capture_id = \(round))
                    """)
                reported.append(Self.lastCommitted(proxy.stderr))
                #expect(kept >= reported[round - 1], "proxy kill \(round): \(kept) kept, \(reported[round - 1]) reported committed")
                spooledAtKill += try Self.int(db, "SELECT coalesce(sum(records), 0) FROM spooled_exchanges WHERE capture_id = \(round)")
                if reported[round - 1] > 0 { afterCommit += 1 }
            }

            let (proxy, port) = try TeeCaptureTests.startTee(proxyFlags)
            try checkKilled(Self.kills)
            #expect(try SQL.sql(db, "SELECT count(*), count(DISTINCT request_body) FROM exchange_bodies") == "\(storedTotal)|\(storedTotal)",
                    "no request stored twice")
            let codes = try TeeCaptureTests.curl((0..<50).map { i in
                (url: "http://127.0.0.1:\(port)/openrtb2/auction", body: "{\\\"id\\\":\\\"after-\(i)\\\"}", headers: [])
            }, in: dir)
            #expect(codes.count == 50 && !codes.contains("000"), "\(codes)")
            #expect(proxy.stop(SIGTERM) == 0, "\(proxy.stderr)")
            #expect(proxy.stdout.contains("exchanges stored 50"), "\(proxy.stdout)")
            let list = try Harness.shadowdiff("captures", "--db", db).stdout
            #expect(list.components(separatedBy: "  interrupted  ").count - 1 == Self.kills, "\(list)")
            #expect(list.contains("capture \(Self.kills + 1)  proxy") && list.contains("  complete  exchanges 50"), "\(list)")
            print("CrashSafetyTests.proxy: \(Self.kills) kills (\(afterCommit) after a reported commit), \(storedTotal) exchanges kept, each once (\(spooledAtKill) of them still spooled at their kill)")
        }
    }

    @Test func killedReplaysResumeToExactlyOneResultPerSide() async throws {
        var clock = Self.killClock("replay")
        try await Harness.withTemporaryDirectory { dir in
            let pcap = dir + "/repeated.pcap"
            try Harness.repeatedSample(rounds: 40).write(to: URL(fileURLWithPath: pcap))
            let db = dir + "/replay.db"
            try #require(try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db).status == 0)
            let exchanges = try Self.int(db, "SELECT count(*) FROM exchanges")
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let candidate = try RunningBidder(build: "candidate")
            defer { candidate.stop() }

            // At 400/s the capture takes ten seconds: 20 sessions killed within 1.6 s leave work to resume.
            var runs = ["crash-1"]
            var kills = 0, afterCommit = 0
            func status(_ run: String) throws -> String { try SQL.sql(db, "SELECT status FROM runs WHERE name = '\(run)'") }
            while kills < Self.kills {
                var run = runs.last!
                if try status(run) == "complete" {
                    try #require(runs.count < 10, "the runs keep completing before their kill")
                    run = "crash-\(runs.count + 1)"
                    runs.append(run)
                }
                let command = ["replay", "--db", db, "--run", run, "--progress-interval", "0.05"] + (try status(run).isEmpty
                    ? ["--baseline", baseline.url, "--candidate", candidate.url, "--rate", "400"]
                    : ["--resume"])
                let session = try KilledSession(command, after: .random(in: 0.1...1.6, using: &clock))
                guard session.wasKilled else {
                    try #require(session.status == 0, "\(session.stderr)")
                    continue
                }
                kills += 1
                try Self.expectIntact(db, "replay kill \(kills)")
                if try status(run) == "running" {
                    let listed = try Harness.shadowdiff("runs", "--db", db).stdout
                    let line = listed.split(separator: "\n").first { $0.hasPrefix(run + " ") }
                    #expect(line?.contains(" interrupted ") == true, "replay kill \(kills): a killed run is listed interrupted: \(listed)")
                }
                let stored = try Self.int(db, """
                    SELECT count(*) FROM (SELECT DISTINCT pass, exchange_id FROM results r JOIN runs ON runs.id = r.run_id
                                          WHERE runs.name = '\(run)')
                    """)
                #expect(stored >= session.lastCommitted, "replay kill \(kills): \(stored) stored, \(session.lastCommitted) reported committed")
                if session.lastCommitted > 0 { afterCommit += 1 }
                #expect(try Self.int(db, """
                    SELECT count(*) FROM (SELECT 1 FROM results r JOIN runs ON runs.id = r.run_id WHERE runs.name = '\(run)'
                                          GROUP BY pass, exchange_id HAVING count(*) != 2)
                    """) == 0, "replay kill \(kills): every stored request has both sides")
            }
            // The last run: killed before it was created, or to be resumed to its end.
            switch try status(runs.last!) {
            case "": runs.removeLast()
            case "complete": break
            default:
                let finish = try Harness.run(Harness.shadowdiff, ["replay", "--db", db, "--run", runs.last!, "--resume"])
                #expect(finish.status == 0, "\(finish.stderr)")
            }
            for run in runs {
                #expect(try SQL.sql(db, "SELECT status FROM runs WHERE name = '\(run)'") == "complete", "\(run)")
                #expect(try Self.int(db, """
                    SELECT count(*) FROM exchanges e
                    WHERE (SELECT count(*) FROM results r JOIN runs ON runs.id = r.run_id
                           WHERE runs.name = '\(run)' AND r.exchange_id = e.id AND r.side = 'baseline') != 1
                       OR (SELECT count(*) FROM results r JOIN runs ON runs.id = r.run_id
                           WHERE runs.name = '\(run)' AND r.exchange_id = e.id AND r.side = 'candidate') != 1
                    """) == 0, "\(run): exactly one result per exchange and side")
                #expect(try Self.int(db, "SELECT count(*) FROM results r JOIN runs ON runs.id = r.run_id WHERE runs.name = '\(run)'")
                        == 2 * exchanges, "\(run)")
            }
            print("""
                CrashSafetyTests.replay: \(kills) kills (\(afterCommit) after a reported commit) over \(runs.count) run(s) of \
                \(exchanges) requests, each answered once per side
                """)
        }
    }

    /// A kill-moment generator seeded from CRASH_SEED, or at random; the seed is printed.
    static func killClock(_ test: String) -> SplitMix64 {
        let seed = ProcessInfo.processInfo.environment["CRASH_SEED"].flatMap { UInt64($0) } ?? .random(in: 0...UInt64.max)
        print("CrashSafetyTests.\(test): seed \(seed) (CRASH_SEED=\(seed) repeats these kill moments)")
        return SplitMix64(seed: seed)
    }

    /// A shadowdiff command SIGKILLed `after` seconds from its start, unless it ended before.
    struct KilledSession {
        let wasKilled: Bool
        let status: Int32
        let stderr: String

        init(_ command: [String], after seconds: Double) throws {
            let process = try RunningLiveCapture(command: command, waitFor: nil)
            usleep(UInt32(seconds * 1e6))
            status = process.stop(SIGKILL)
            wasKilled = process.process.terminationReason == .uncaughtSignal && status == SIGKILL
            stderr = process.stderr
        }

        var lastCommitted: Int64 { CrashSafetyTests.lastCommitted(stderr) }
    }

    /// The count of the last progress line's "N committed" (or "N/TOTAL committed"); 0 without one.
    static func lastCommitted(_ stderr: String) -> Int64 {
        stderr.matches(of: /(\d+)(?:\/\d+)? committed/).last.flatMap { Int64($0.1) } ?? 0
    }

    static func int(_ db: String, _ query: String) throws -> Int64 {
        let text = try SQL.sql(db, query)
        return try #require(Int64(text), "\(query): \(text)")
    }

    static func expectIntact(_ db: String, _ context: String) throws {
        #expect(try SQL.sql(db, "PRAGMA integrity_check") == "ok", "\(context)")
    }

    /// One digest per stored exchange, in id order, over its metadata, request and production's response.
    static func exchangeDigests(_ db: String) throws -> [String] {
        let fields = [
            "e.capture_time_ns", "e.connection", "e.client", "e.server", "e.method", "e.target", "e.request_bytes", "e.prod_status",
            "e.prod_latency_ns", "b.request_version", "b.request_headers", "b.request_body", "b.prod_headers", "b.prod_body",
        ].map { "quote(\($0))" }.joined(separator: " || ',' || ")
        return try SQL.sql(db, "SELECT hex(sha3(\(fields))) FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id ORDER BY e.id")
            .split(separator: "\n").map(String.init)
    }

    /// The capture's counters but `resumed_skipped`, which only a resumed import has.
    static func captureCounters(_ db: String) throws -> String {
        try SQL.sql(db, "SELECT name || '=' || value FROM capture_counters WHERE name != 'resumed_skipped' ORDER BY name")
    }

    static func expectSameExchanges(_ actual: [String], _ expected: [String], _ context: String) {
        let common = min(actual.count, expected.count)
        let firstDifference = (0..<common).first { actual[$0] != expected[$0] }
        #expect(actual.count == expected.count && firstDifference == nil,
                "\(context): \(actual.count) exchanges stored, \(expected.count) by the clean import; first difference at #\(firstDifference ?? common)")
    }

    /// curl posting `{"id":"<id>"}` for each id in turn on one keep-alive connection, in the background.
    static func startLoad(url: String, ids: [String], in dir: String) throws -> Process {
        let config = ids.map { "url = \"\(url)\"\ndata-binary = \"{\\\"id\\\":\\\"\($0)\\\"}\"\n" }.joined(separator: "next\n")
        let path = dir + "/load-\(UUID().uuidString).cfg"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let curl = Harness.process("/usr/bin/curl", ["-s", "--max-time", "5", "-K", path])
        curl.standardOutput = FileHandle.nullDevice
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        return curl
    }
}

/// `capture --resume` continues only what it can continue exactly, and says why not otherwise.
@Suite struct PcapResumeRefusalTests {
    private func expectRefusal(_ output: Harness.Output, _ needle: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(output.status == 2, sourceLocation: sourceLocation)
        #expect(output.stderr.contains(needle), "\(output.stderr)", sourceLocation: sourceLocation)
    }

    @Test func resumeRefusesWhatItCannotContinueExactly() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let pcap = dir + "/copy.pcap"
            try FileManager.default.copyItem(atPath: Harness.root + "/captures/sample.pcap", toPath: pcap)
            let db = dir + "/r.db"
            expectRefusal(try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db, "--resume"), "\(db): no such file")
            expectRefusal(try Harness.shadowdiff("capture", "--interface", "lo", "--db", db, "--resume"), "--resume: continues --pcap imports")
            #expect(try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db).status == 0)
            expectRefusal(try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db, "--resume"), "capture 1 of \(pcap) in \(db) is complete")
            expectRefusal(try Harness.shadowdiff("capture", "--pcap", Harness.root + "/captures/sample.pcap", "--db", db, "--resume"),
                          "holds no capture of \(Harness.root)/captures/sample.pcap")

            _ = try CrashSafetyTests.SQL.sql(db, "UPDATE captures SET status = 'failed'")
            expectRefusal(try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db, "--resume", "--max-body-bytes", "100"),
                          "imported with --max-body-bytes 67108864, not 100")
            let resumed = try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db, "--resume")
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stdout.contains("exchanges stored 104") && resumed.stdout.contains("the first 104 were stored before"), "\(resumed.stdout)")
            #expect(try CrashSafetyTests.SQL.sql(db, "SELECT count(*), count(DISTINCT capture_time_ns) FROM exchanges") == "104|104")

            _ = try CrashSafetyTests.SQL.sql(db, "UPDATE captures SET status = 'failed'")
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: pcap))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(count: 16))
            try handle.close()
            expectRefusal(try Harness.shadowdiff("capture", "--pcap", pcap, "--db", db, "--resume"), "capture 1 of \(pcap): the file is")
        }
    }
}
