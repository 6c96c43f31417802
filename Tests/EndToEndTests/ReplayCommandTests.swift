import Foundation
import Testing

/// `shadowdiff replay` driven as a user would: live metrics, exit codes, resume.
@Suite struct ReplayCommandTests {
    private func capture(_ dir: String) throws -> String {
        let db = dir + "/r.db"
        let capture = try Harness.shadowdiff("capture", "--pcap", Harness.root + "/captures/sample.pcap", "--db", db)
        #expect(capture.status == 0, "\(capture.stderr)")
        return db
    }

    /// A free loopback port (bound, then released).
    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func openLoopRunServesPrometheusMetricsWhileReplaying() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try capture(dir)
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let candidate = try RunningBidder(build: "candidate")
            defer { candidate.stop() }
            let port = try freePort()
            let replay = Harness.process(Harness.shadowdiff, [
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "m",
                "--rate", "200", "--loop", "--duration", "5", "--warmup", "10", "--metrics", "127.0.0.1:\(port)",
            ])
            let out = Pipe()
            replay.standardOutput = out
            replay.standardError = FileHandle.nullDevice
            try replay.run()
            // Scrape until a result shows up (a loaded machine may take seconds to start the run).
            var scraped = ""
            let deadline = Date().addingTimeInterval(40)
            while replay.isRunning && Date() < deadline && !scraped.contains("shadowdiff_replay_requests_total{") {
                usleep(250_000)  // not Task.sleep: other tests may hold every cooperative thread
                scraped = try Harness.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"]).stdout
            }
            #expect(Harness.reap(replay, within: 30))
            #expect(replay.terminationStatus == 0)
            #expect(scraped.contains("side=\"baseline\""), "\(scraped.prefix(2000))")
            #expect(scraped.contains("shadowdiff_replay_latency_seconds_bucket"))
            let summary = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(summary.contains("replayed"), "\(summary)")
            #expect(summary.contains("send lag p50"), "\(summary)")
            let rows = try Harness.run("/usr/bin/sqlite3", [db, "SELECT count(*), sum(warmup) FROM results WHERE side = 'baseline'"]).stdout
            let counts = rows.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").compactMap { Int($0) }
            #expect(counts.count == 2 && counts[0] > 500 && counts[1] == 10, "\(rows)")
        }
    }

    /// `--probe 'GET /health'`: every lane proves each of its connections with that request before
    /// the clock starts, and only then sends the capture; nginx's access log holds exactly both.
    @Test func eachConnectionIsProvenWithTheProbeBeforeTheRun() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try capture(dir)
            let baseline = try RunningNginx(directory: dir + "/nginx-b")
            defer { baseline.stop() }
            let candidate = try RunningNginx(directory: dir + "/nginx-c")
            defer { candidate.stop() }
            let replay = try Harness.shadowdiff(
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "p",
                "--concurrency", "6", "--probe", "GET /health")
            #expect(replay.status == 0, "\(replay.stdout)\(replay.stderr)")
            #expect(replay.stdout.components(separatedBy: "connections 6/6 ready before the clock").count == 3, "\(replay.stdout)")
            let exchanges = try Harness.run("/usr/bin/sqlite3", [db, "SELECT count(*) FROM exchanges"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            for nginx in [baseline, candidate] {
                let log = try String(contentsOfFile: nginx.accessLog, encoding: .utf8).split(separator: "\n")
                let probes = log.filter { $0.contains("\"GET /health HTTP/1.1\"") }
                #expect(probes.count == 6, "one probe per lane: \(probes.count)")
                #expect(String(log.count - probes.count) == exchanges, "\(log.count) lines")
                // Every probe was answered before the first captured request was sent.
                let firstRequest = log.firstIndex { !$0.contains("GET /health") } ?? log.count
                #expect(firstRequest == 6)
            }
            let bad = try Harness.shadowdiff(
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", candidate.url, "--run", "q", "--probe", "health")
            #expect(bad.status == 2 && bad.stderr.contains("--probe: 'health' is not"), "\(bad.stderr)")
        }
    }

    @Test func aTargetGoingDownEndsWithExitThreeAndResumeFinishesTheRun() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = try capture(dir)
            let baseline = try RunningBidder(build: "baseline")
            defer { baseline.stop() }
            let down = "http://127.0.0.1:\(try freePort())"
            let first = try Harness.shadowdiff(
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", baseline.url, "--secondary", down,
                "--run", "d", "--concurrency", "1", "--max-failures", "5")
            #expect(first.status == 2, "an unreachable target is refused before the run: \(first.stderr)")
            #expect(first.stderr.contains(down) && first.stderr.contains("unreachable"), "\(first.stderr)")

            let stopping = try RunningBidder(build: "candidate")
            let replay = Harness.process(Harness.shadowdiff, [
                "replay", "--db", db, "--baseline", baseline.url, "--candidate", stopping.url, "--run", "d2",
                "--rate", "20", "--max-failures", "5",
            ])
            let err = Pipe()
            replay.standardError = err
            replay.standardOutput = FileHandle.nullDevice
            try replay.run()
            // Stop the candidate once the run is under way (104 requests at 20/s take 5 s).
            let deadline = Date().addingTimeInterval(40)
            while replay.isRunning && Date() < deadline {
                let rows = try Harness.run("/usr/bin/sqlite3", [db, "SELECT count(*) FROM results WHERE side = 'candidate'"]).stdout
                if (Int(rows.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 5 { break }
                usleep(100_000)
            }
            stopping.stop()
            #expect(Harness.reap(replay, within: 30))
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(replay.terminationStatus == 3, "\(message)")
            #expect(message.contains("target down") && message.contains(stopping.url), "\(message)")

            // Continue against the candidate restarted on another port: nothing stored is sent again.
            let again = try RunningBidder(build: "candidate")
            defer { again.stop() }
            let resumed = try Harness.shadowdiff("replay", "--db", db, "--run", "d2", "--resume", "--candidate", again.url)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stdout.contains("resumed_skipped"), "\(resumed.stdout)")
            let stored = try Harness.run("/usr/bin/sqlite3", [db, """
                SELECT count(*), count(DISTINCT exchange_id), min(r.status), runs.status FROM results r
                JOIN runs ON runs.id = r.run_id WHERE runs.name = 'd2' AND side = 'baseline'
                """])
            #expect(stored.stdout == "104|104|200|complete\n", "\(stored.stdout)\(stored.stderr)")
        }
    }
}
