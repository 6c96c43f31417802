import Foundation
import Testing

/// Bad input gives one line naming the file or URL, exit 2, and leaves existing databases intact.
@Suite struct BadInputTests {
    let sample = Harness.root + "/captures/sample.pcap"

    func expectOneLineError(_ output: Harness.Output, mentioning needle: String) {
        #expect(output.status == 2)
        let lines = output.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(output.stderr)")
        #expect(output.stderr.contains(needle), "stderr: \(output.stderr)")
    }

    @Test func aFileThatIsNotAPcapIsRefused() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let bogus = dir + "/notes.pcap"
            try Data("this is not a capture\n".utf8).write(to: URL(fileURLWithPath: bogus))
            let out = try Harness.shadowdiff("capture", "--pcap", bogus, "--db", dir + "/x.db")
            expectOneLineError(out, mentioning: bogus)
            #expect(out.stderr.contains("not a pcap"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/x.db"))
            expectOneLineError(try Harness.shadowdiff("capture", "--pcap", dir + "/missing.pcap", "--db", dir + "/x.db"),
                               mentioning: dir + "/missing.pcap")
        }
    }

    @Test func aTruncatedPcapNamesTheOffsetAndKeepsEarlierCaptures() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/keep.db"
            #expect(try Harness.shadowdiff("capture", "--pcap", sample, "--db", db).status == 0)
            let full = try Data(contentsOf: URL(fileURLWithPath: sample))
            let cut = dir + "/cut.pcap"
            try full.prefix(full.count / 2 + 7).write(to: URL(fileURLWithPath: cut))
            let out = try Harness.shadowdiff("capture", "--pcap", cut, "--db", db)
            expectOneLineError(out, mentioning: cut)
            #expect(out.stderr.contains("damaged capture at packet ") && out.stderr.contains("byte offset"), "\(out.stderr)")
            let list = try Harness.shadowdiff("captures", "--db", db)
            #expect(list.status == 0)
            #expect(list.stdout.contains("capture 1  pcap \(sample)  complete"))
            #expect(list.stdout.contains("capture 2  pcap \(cut)  failed"))
            #expect(list.stdout.contains("packets=272") && list.stdout.contains("requests=104"), "\(list.stdout)")
            #expect(list.stdout.contains("  not used: nothing"), "\(list.stdout)")
            let integrity = try Harness.run("/usr/bin/sqlite3", [db, "PRAGMA integrity_check"])
            #expect(integrity.stdout == "ok\n")
        }
    }

    @Test func anInterruptedImportKeepsWhatItReadAndIsMarkedFailed() async throws {
        try await Harness.withTemporaryDirectory { dir in
            // 104,000 exchanges, far more than are read before the interrupt.
            let big = try Harness.repeatedSample(rounds: 1000)
            let path = dir + "/long.pcap"
            try big.write(to: URL(fileURLWithPath: path))
            let db = dir + "/interrupted.db"
            let capture = try RunningLiveCapture(pcapImportOf: path, db: db)
            func stored() -> Int { Int((try? Harness.run("/usr/bin/sqlite3", [db, "SELECT count(*) FROM exchanges"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "") ?? 0 }
            // The whole import takes several seconds in a debug build; interrupt it half a second in.
            usleep(500_000)
            try #require(capture.process.isRunning, "the import finished before it could be interrupted: \(capture.stdout)")
            let status = capture.stop(SIGINT)
            #expect(status == 2)
            #expect(capture.stderr.contains("\(path): interrupted by a signal"), "\(capture.stderr)")
            let kept = stored()
            #expect(kept > 0 && kept < 104_000, "\(kept) exchanges kept")
            let list = try Harness.shadowdiff("captures", "--db", db)
            #expect(list.stdout.contains("capture 1  pcap \(path)  failed  exchanges \(kept)"), "\(list.stdout)")
            let integrity = try Harness.run("/usr/bin/sqlite3", [db, "PRAGMA integrity_check"])
            #expect(integrity.stdout == "ok\n")
        }
    }

    @Test func maxExchangesOnAFileStoresThatManyAndCountsTheRest() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let out = try Harness.shadowdiff("capture", "--pcap", sample, "--db", dir + "/m.db", "--max-exchanges", "10")
            #expect(out.status == 0, "\(out.stderr)")
            #expect(out.stdout.contains("exchanges stored 10 "), "\(out.stdout)")
            #expect(out.stdout.contains("after_limit                94"), "104 in the sample: \(out.stdout)")
        }
    }

    @Test func foreignAndMissingDatabasesAreRefusedUntouched() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let text = dir + "/readme.txt"
            try Data("plain text".utf8).write(to: URL(fileURLWithPath: text))
            expectOneLineError(try Harness.shadowdiff("capture", "--pcap", sample, "--db", text), mentioning: text)
            #expect(try String(contentsOfFile: text, encoding: .utf8) == "plain text")

            let foreign = dir + "/other.db"
            _ = try Harness.run("/usr/bin/sqlite3", [foreign, "CREATE TABLE accounts(id, balance); INSERT INTO accounts VALUES (1, 100);"])
            let before = try Data(contentsOf: URL(fileURLWithPath: foreign))
            let out = try Harness.shadowdiff("capture", "--pcap", sample, "--db", foreign)
            expectOneLineError(out, mentioning: foreign)
            #expect(out.stderr.contains("not a shadowdiff database"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)

            expectOneLineError(try Harness.shadowdiff("diff", "--db", dir + "/none.db"), mentioning: dir + "/none.db")
            expectOneLineError(
                try Harness.shadowdiff("replay", "--db", dir + "/none.db", "--baseline", "http://127.0.0.1:1", "--candidate", "http://127.0.0.1:2"),
                mentioning: dir + "/none.db")
            #expect(!FileManager.default.fileExists(atPath: dir + "/none.db"))
        }
    }

    @Test func unreachableAndMalformedTargetsAreNamed() async throws {
        try await Harness.withTemporaryDirectory { dir in
            let db = dir + "/t.db"
            #expect(try Harness.shadowdiff("capture", "--pcap", sample, "--db", db).status == 0)
            let bidder = try RunningBidder(build: "baseline")
            defer { bidder.stop() }
            // Port 9 (discard) on loopback has no listener here.
            let down = "http://127.0.0.1:9"
            expectOneLineError(try Harness.shadowdiff("replay", "--db", db, "--baseline", bidder.url, "--candidate", down), mentioning: down)
            expectOneLineError(try Harness.shadowdiff("replay", "--db", db, "--baseline", "https://x", "--candidate", bidder.url),
                               mentioning: "--baseline https://x")
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--run", "nope"), mentioning: "nope")
            let usage = try Harness.shadowdiff("diff", "--db", db, "--rules", "yaml-magic")
            #expect(usage.status == 2)
            let rules = dir + "/rules.yaml"
            try Data("preset: json\nignore:\n  - price\n".utf8).write(to: URL(fileURLWithPath: rules))
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--rules-file", rules), mentioning: rules + ":3: ignore: invalid path 'price'")
            try Data("preset: json\nignroe: [/a]\n".utf8).write(to: URL(fileURLWithPath: rules))
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--rules-file", rules), mentioning: rules + ":2: unknown key 'ignroe'")
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--rules-file", dir + "/none.yaml"), mentioning: dir + "/none.yaml")
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--ignore", "price"), mentioning: "--ignore")
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--tolerance", "/price=lots"), mentioning: "--tolerance")
            expectOneLineError(try Harness.shadowdiff("diff", "--db", db, "--array-key", "/seatbid"), mentioning: "--array-key")
            // Nothing was recorded by the refused replays.
            let runs = try Harness.run("/usr/bin/sqlite3", [db, "SELECT count(*) FROM runs"])
            #expect(runs.stdout == "0\n")
        }
    }
}
