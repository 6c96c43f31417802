import Foundation
import Testing

/// Files shadowdiff writes: private modes, and a disk that fills up during a capture.
@Suite struct FileSafetyTests {
    static let sample = Harness.root + "/captures/sample.pcap"

    static func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    static func sqlite(_ db: String, _ sql: String) throws -> String {
        let out = try Harness.run("/usr/bin/sqlite3", [db, sql])
        #expect(out.status == 0, "sqlite3 \(sql): \(out.stderr)")
        return out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `body` in a directory on a 1 MiB tmpfs (`mounted`), or, where this machine does not allow
    /// mounting, in a plain temporary directory (the test then limits file sizes instead).
    static func withSmallDisk(_ body: (_ mount: String, _ mounted: Bool) async throws -> Void) async throws {
        try await Harness.withTemporaryDirectory { dir in
            let mount = dir + "/small"
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            let mounted = try Harness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]).status == 0
            defer { if mounted { _ = try? Harness.run("/bin/umount", [mount]) } }
            try await body(mount, mounted)
        }
    }

    /// Fills the disk under `mount` but for `room` bytes (`mount/filler`; remove it to make room).
    static func fill(_ mount: String, leaving room: Int) throws {
        let free = try #require(try FileManager.default.attributesOfFileSystem(forPath: mount)[.systemFreeSize] as? Int)
        _ = FileManager.default.createFile(atPath: mount + "/filler", contents: Data(count: max(0, free - room)))
    }

    /// The database (and its -wal and -shm files while open) and every report are 0600, even with
    /// umask 000 and when the report files existed world-readable before.
    @Test func databasesAndReportsAreCreatedPrivate() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/shadow.db"
            let script = """
                umask 000
                "$1" capture --pcap "$2" --db "$3" >/dev/null || exit 1
                "$1" capture mirror --listen 127.0.0.1:0 --db "$3" --duration 3 >/dev/null 2>&1 &
                for i in $(seq 50); do [ -e "$3-wal" ] && [ -e "$3-shm" ] && break; sleep 0.05; done
                stat -c '%a' "$3" "$3-wal" "$3-shm"
                wait
                """
            let out = try Harness.run("/bin/sh", ["-c", script, "sh", Harness.shadowdiff, Self.sample, db])
            #expect(out.status == 0, "\(out.stderr)")
            #expect(out.stdout.split(separator: "\n") == ["600", "600", "600"], "database, -wal, -shm while open")
            #expect(try Self.mode(db) == 0o600)

            let reviewed = dir + "/reviewed.db"
            try ReviewReportTests.hostileDatabase(reviewed)
            let outputs = ["html", "markdown", "junit", "json"].map { (flag: "--\($0)", path: dir + "/report.\($0)") }
            for output in outputs {
                _ = FileManager.default.createFile(atPath: output.path, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
            }
            let report = try Harness.run(
                "/bin/sh", ["-c", "umask 000; exec \"$@\"", "sh", Harness.shadowdiff, "report", "--db", reviewed]
                    + outputs.flatMap { [$0.flag, $0.path] })
            #expect(report.status == 1, "\(report.stderr)")
            for output in outputs {
                #expect(try Self.mode(output.path) == 0o600, "\(output.flag)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasSuffix(".tmp") }, "no temporary file left")
        }
    }

    /// A disk that fills up mid-capture: the capture ends with a clear error naming the file, exit 2;
    /// the database passes integrity_check; earlier captures and every exchange reported committed are
    /// intact; once there is room again the next capture works.
    @Test func diskFullDuringCaptureKeepsWhatWasCommitted() async throws {
        try await Self.withSmallDisk { mount, mounted in
            // Without the right to mount, a file size limit (prlimit) stands in for the full disk.
            let limit = mounted ? [] : ["/usr/bin/prlimit", "--fsize=700000"]
            let db = mount + "/shadow.db"
            func capture(_ extra: String...) throws -> Harness.Output {
                let command = limit + [Harness.shadowdiff, "capture", "--pcap", Self.sample, "--db", db] + extra
                return try Harness.run(command[0], Array(command.dropFirst()))
            }

            let first = try capture("--max-exchanges", "20")
            #expect(first.status == 0, "\(first.stderr)")
            let before = try Self.sqlite(db, "SELECT count(*), sum(length(request_body)) FROM exchanges JOIN exchange_bodies ON exchange_id = id")
            if mounted {
                // Leave less room than the next capture needs.
                try Self.fill(mount, leaving: 160 << 10)
            }

            let full = try capture()
            #expect(full.status == 2)
            #expect(full.stderr.contains("\(db): cannot write to the database:"), "\(full.stderr)")
            #expect(full.stderr.contains(mounted ? "the disk is full" : "I/O error"), "\(full.stderr)")
            let kept = try #require(full.stderr.firstMatch(of: /capture 2 keeps the (\d+) exchanges committed before it and is/)).output.1
            #expect(full.stderr.split(separator: "\n").count == 1, "one line: \(full.stderr)")
            #expect(!full.stderr.contains("Fatal error"))

            try? FileManager.default.removeItem(atPath: mount + "/filler")
            #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok")
            #expect(try Self.sqlite(db, "SELECT count(*), sum(length(request_body)) FROM exchanges JOIN exchange_bodies ON exchange_id = id WHERE capture_id = 1") == before)
            #expect(try Self.sqlite(db, "SELECT count(*) FROM exchanges WHERE capture_id = 2") == String(kept))

            if mounted {
                let again = try capture("--max-exchanges", "10")
                #expect(again.status == 0, "\(again.stderr)")
                #expect(try Self.sqlite(db, "SELECT count(*) FROM exchanges WHERE capture_id = 3") == "10")
                #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok")
            }
        }
    }
    /// A database from a newer shadowdiff is refused by every command, with exit 2 and a line that
    /// names the file and both versions, and is left byte for byte as it was.
    @Test func newerSchemaIsRefusedByEveryCommand() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/newer.db"
            #expect(try Harness.shadowdiff("capture", "--pcap", Self.sample, "--db", db, "--max-exchanges", "5").status == 0)
            _ = try Self.sqlite(db, "INSERT INTO grdb_migrations VALUES ('v99-from-the-future'); PRAGMA user_version = 99")
            let before = try Data(contentsOf: URL(fileURLWithPath: db))
            let commands: [[String]] = [
                ["capture", "--pcap", Self.sample, "--db", db],
                ["capture", "mirror", "--listen", "127.0.0.1:0", "--db", db, "--duration", "1"],
                ["replay", "--db", db, "--baseline", "http://127.0.0.1:9", "--candidate", "http://127.0.0.1:9"],
                ["diff", "--db", db], ["captures", "--db", db], ["runs", "--db", db],
            ]
            for command in commands {
                let out = try Harness.run(Harness.shadowdiff, command)
                #expect(out.status == 2, "\(command)")
                #expect(out.stderr.contains("\(db): database schema version 99 is newer than this shadowdiff supports"), "\(command): \(out.stderr)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before)
        }
    }

    /// Production comes first: the disk under a recording proxy fills up and every request is still
    /// forwarded and answered; the records that could not be stored are counted; on stop the proxy
    /// prints its summary, then one error line naming the file; the database keeps what was committed.
    @Test func aFullDiskUnderTheProxyNeverFailsProduction() async throws {
        try await Self.withSmallDisk { mount, mounted in
            let bidder = try RunningBidder(build: "baseline")
            defer { bidder.stop() }
            let db = mount + "/proxy.db"
            let (proxy, port) = try TeeCaptureTests.startTee(["proxy", "--upstream", bidder.url, "--db", db])
            if mounted {
                try Self.fill(mount, leaving: 96 << 10)
            } else {
                let size = try #require(try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int)
                let limited = try Harness.run("/usr/bin/prlimit", ["--pid", "\(proxy.process.processIdentifier)", "--fsize=\(size + 96 << 10)"])
                #expect(limited.status == 0, "\(limited.stderr)")
            }
            let request = Harness.root + "/fixtures/requests/01-banner-300x250-site.json"
            let n = 600
            let codes = try TeeCaptureTests.curl(
                Array(repeating: (url: "http://127.0.0.1:\(port)/openrtb2/auction", body: "@" + request, headers: ["Content-Type: application/json"]), count: n),
                in: URL(fileURLWithPath: mount).deletingLastPathComponent().path)
            #expect(codes.count == n && codes.allSatisfy { $0 == "200" || $0 == "204" }, "every request answered: \(Set(codes))")

            let status = proxy.stop(SIGTERM)
            #expect(status == 2, "\(proxy.stderr)")
            let errors = proxy.stderr.split(separator: "\n").filter { $0.hasPrefix("shadowdiff:") }
            #expect(errors.count == 1 && errors[0].contains("\(db): cannot write to the database:"), "\(proxy.stderr)")
            let kept = try #require(proxy.stderr.firstMatch(of: /capture 1 keeps the (\d+) exchanges committed before it/)).output.1
            #expect(Int(kept)! < n, "the disk filled before the end")
            #expect(proxy.stdout.contains("store_failed"), "the summary counts what could not be stored: \(proxy.stdout)")

            try? FileManager.default.removeItem(atPath: mount + "/filler")
            #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok")
            // What was kept is expanded, or still spooled where the full disk stopped the expansion.
            #expect(try Self.sqlite(db, """
                SELECT (SELECT count(*) FROM exchanges WHERE prod_status IN (200, 204))
                     + (SELECT coalesce(sum(records), 0) FROM spooled_exchanges)
                """) == String(kept))
            // On a disk with room, the next tee expands the spool: every kept exchange is whole.
            let roomy = URL(fileURLWithPath: mount).deletingLastPathComponent().path + "/roomy.db"
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: db + suffix) {
                try FileManager.default.copyItem(atPath: db + suffix, toPath: roomy + suffix)
            }
            let (next, _) = try TeeCaptureTests.startTee(["proxy", "--upstream", bidder.url, "--db", roomy])
            #expect(next.stop(SIGTERM) == 0, "\(next.stderr)")
            #expect(try Self.sqlite(roomy, "SELECT count(*) FROM exchanges WHERE prod_status IN (200, 204) AND capture_id = 1") == String(kept))
            #expect(try Self.sqlite(roomy, "SELECT count(*) FROM spooled_exchanges") == "0")
        }
    }
}
