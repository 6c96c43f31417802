import Foundation
import Testing

/// `shadowdiff capture --interface` on the real loopback interface, with real nginx, wrk and curl.
@Suite(.serialized) struct LiveInterfaceCaptureTests {
    static func sql(_ db: String, _ query: String) throws -> String {
        try Harness.run("/usr/bin/sqlite3", [db, query]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func counter(_ db: String, _ name: String) throws -> Int {
        Int(try sql(db, "SELECT coalesce(sum(value), 0) FROM capture_counters WHERE name = '\(name)'")) ?? -1
    }

    static let wrk = "/usr/bin/wrk"

    @Test func everyRequestWrkSendsThroughNginxIsStored() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.wrk), "wrk is not installed; `make test` installs it")
        try await Harness.withTemporaryDirectory { dir in
            let nginx = try RunningNginx(directory: dir + "/nginx")
            defer { nginx.stop() }
            let db = dir + "/live.db"
            // Block mode: immediate mode's fixed 66 KB slots hold only ~4,000 packets in the default
            // ring, which a loaded test machine can overrun (then counted kernel_dropped).
            let capture = try RunningLiveCapture([
                "--interface", "lo", "--no-immediate-mode", "--filter", "tcp port \(nginx.port)", "--db", db,
            ])
            try #require(capture.process.isRunning, "capture did not start: \(capture.stderr)")
            let load = try Harness.run(Self.wrk, [
                "-t1", "-c8", "-d3s", "-s", Harness.root + "/bench/lib/openrtb-post.lua", nginx.url + "/openrtb2/auction",
            ])
            #expect(load.status == 0, "\(load.stderr)")
            let answered = try nginx.loggedRequests()
            try #require(answered > 1000, "wrk sent too little to test: \(load.stdout)")
            try await Task.sleep(for: .milliseconds(200))
            let status = capture.stop(SIGTERM)
            #expect(status == 0, "\(capture.stderr)")
            #expect(capture.stdout.contains("exchanges stored \(answered)"), "\(capture.stdout)")

            #expect(try Self.sql(db, "SELECT count(*), count(prod_status), sum(prod_status = 200) FROM exchanges")
                    == "\(answered)|\(answered)|\(answered)")
            #expect(try Self.sql(db, "SELECT count(*) FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id WHERE e.method = 'POST' AND length(b.request_body) = e.request_bytes AND e.request_bytes > 500") == "\(answered)")
            #expect(try Self.sql(db, "SELECT status, source_kind, link_type FROM captures") == "complete|interface|EN10MB")
            #expect(try Self.counter(db, "pcap_received") >= answered * 2)
            for reason in ["kernel_dropped", "capture_queue_full", "gap", "skipped_bytes", "request_without_response", "response_without_request"] {
                #expect(try Self.counter(db, reason) == 0, "\(reason)")
            }
        }
    }

    @Test func anyInterfaceStopsByItselfAtMaxExchanges() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let nginx = try RunningNginx(directory: dir + "/nginx")
            defer { nginx.stop() }
            let db = dir + "/any.db"
            let capture = try RunningLiveCapture([
                "--interface", "any", "--filter", "tcp port \(nginx.port)", "--max-exchanges", "25", "--db", db,
            ])
            try #require(capture.process.isRunning, "capture did not start: \(capture.stderr)")
            var args = ["-s", "--http1.1"]
            // Plenty more than the limit, so the capture reaches it even on a loaded machine.
            for i in 0..<200 {
                if i > 0 { args.append("--next") }
                args += ["-o", "/dev/null", "-d", "{\"id\":\"\(i)\"}", nginx.url + "/n/\(i)"]
            }
            #expect(try Harness.run("/usr/bin/curl", args).status == 0)
            let status = capture.wait(timeout: 20)
            #expect(status == 0, "\(capture.stderr)")
            #expect(try Self.sql(db, "SELECT count(*), count(prod_status), sum(target LIKE '/n/%') FROM exchanges") == "25|25|25")
            #expect(try Self.sql(db, "SELECT link_type, status FROM captures") == "LINUX_SLL2|complete")
            let after = try Self.counter(db, "after_limit")
            #expect(after >= 0 && after <= 175, "after_limit \(after)")
        }
    }

    @Test func interruptWithoutTrafficStoresAnEmptyCompleteCapture() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/quiet.db"
            let capture = try RunningLiveCapture(["--interface", "lo", "--filter", "tcp port 9", "--db", db])
            try #require(capture.process.isRunning, "capture did not start: \(capture.stderr)")
            try await Task.sleep(for: .milliseconds(300))
            let started = Date()
            #expect(capture.stop(SIGINT) == 0, "\(capture.stderr)")
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(capture.stdout.contains("exchanges stored 0"))
            #expect(try Self.sql(db, "SELECT status FROM captures") == "complete")
        }
    }

    @Test func durationEndsTheCapture() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let started = Date()
            let out = try Harness.shadowdiff("capture", "--interface", "lo", "--filter", "tcp port 9", "--duration", "1", "--db", dir + "/d.db")
            #expect(out.status == 0, "\(out.stderr)")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }

    @Test func unknownInterfaceIsAOneLineErrorAndNoDatabase() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let out = try Harness.shadowdiff("capture", "--interface", "nosuch0", "--db", dir + "/x.db")
            #expect(out.status == 2)
            #expect(out.stderr.hasPrefix("shadowdiff: --interface nosuch0: cannot capture:"), "\(out.stderr)")
            #expect(out.stderr.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: dir + "/x.db"))
        }
    }

    @Test func badFilterNamesTheFlag() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let out = try Harness.shadowdiff("capture", "--interface", "lo", "--filter", "tcp port banana", "--db", dir + "/x.db")
            #expect(out.status == 2)
            #expect(out.stderr.hasPrefix("shadowdiff: --filter: 'tcp port banana':"), "\(out.stderr)")
        }
    }
}
