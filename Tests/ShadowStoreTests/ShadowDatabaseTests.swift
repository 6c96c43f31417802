import Foundation
import GRDB
import ShadowCore
import Testing

@testable import ShadowStore

/// A fresh temporary directory per test, removed at the end.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shadowdiff-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

func sampleExchange(_ n: Int, response: Bool = true) -> CapturedExchange {
    CapturedExchange(
        captureTimeNs: 1_700_000_000_000_000_000 + Int64(n), connection: Int64(n % 3 + 1),
        client: "127.0.0.1:4\(n)", server: "127.0.0.1:8080",
        request: RecordedRequest(
            method: "POST", target: "/openrtb2/auction?n=\(n)",
            headers: [HeaderField("Host", "bidder"), HeaderField("Content-Type", "application/json")],
            body: Array("{\"id\":\"\(n)\"}".utf8)),
        response: response
            ? RecordedResponse(status: 200, headers: [HeaderField("Content-Type", "application/json")], body: [0, 1, 2, 255])
            : nil,
        productionLatencyNs: response ? 1_234_567 : nil)
}

@Suite struct ShadowDatabaseTests {
    @Test func exchangesRoundTripThroughBatches() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/t.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "pcap", source: "x.pcap", filter: "tcp port 80")
            let writer = ExchangeWriter(database: db, captureID: capture, batchSize: 7)
            for n in 0..<50 { try writer.append(sampleExchange(n, response: n % 5 != 0)) }
            #expect(writer.committed == 49)
            try writer.flush()
            #expect(writer.committed == 50)
            var counters = Counters()
            counters.add("packets", 500)
            counters.add(.gap, 2)
            try db.finishCapture(id: capture, counters: counters, linkType: "EN10MB", firstPacketNs: 1, lastPacketNs: 2, error: nil)

            var all: [StoredExchange] = []
            var after: Int64 = 0
            while case let page = try db.exchanges(captureID: capture, afterID: after, limit: 16), let last = page.last {
                all += page
                after = last.id
            }
            #expect(all.count == 50)
            #expect(all.map(\.exchange) == (0..<50).map { sampleExchange($0, response: $0 % 5 != 0) })
            let info = try #require(try db.captures().first)
            #expect(info.status == "complete")
            #expect(info.exchanges == 50)
            #expect(info.counters[.gap] == 2 && info.counters["packets"] == 500)
        }
    }

    @Test func resultsRoundTripPerSide() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/t.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "pcap", source: "x.pcap", filter: nil)
            let writer = ExchangeWriter(database: db, captureID: capture)
            for n in 0..<3 { try writer.append(sampleExchange(n)) }
            try writer.flush()
            let run = try db.createRun(name: "r1", captureID: nil, config: "{}")
            #expect(throws: ShadowError.self) { try db.createRun(name: "r1", captureID: nil, config: "{}") }
            let ok = RecordedResponse(status: 204, headers: [HeaderField("X", "y")], body: [])
            try db.insertResults(runID: run.id, [
                ResultRow(exchangeID: 2, pass: 0, side: .baseline, status: 204, latencyNs: 5, headers: "X: y", body: [], warmup: true),
                ResultRow(exchangeID: 1, pass: 0, side: .baseline, status: 204, firstByteNs: 10, latencyNs: 20, headers: "X: y", body: []),
                ResultRow(exchangeID: 1, pass: 0, side: .candidate, error: .timeout, errorMessage: "no response in 2000 ms"),
                ResultRow(exchangeID: 3, pass: 0, side: .baseline, status: 204, firstByteNs: 1, latencyNs: 2, headers: "X: y", body: []),
                ResultRow(exchangeID: 1, pass: 1, side: .baseline, status: 204, firstByteNs: 1, latencyNs: 2, headers: "X: y", body: []),
            ])
            var sets: [ResultSet] = []
            try db.scanResults(runID: run.id) { sets.append($0) }
            #expect(sets.map(\.exchange.id) == [1, 3, 1])
            #expect(sets.map(\.pass) == [0, 0, 1])
            let first = sets[0].exchange.exchange
            #expect(first.request == sampleExchange(0).request)
            #expect(first.response == sampleExchange(0).response && first.productionLatencyNs == 1_234_567)
            var lean: [ResultSet] = []
            try db.scanResults(runID: run.id, requestBodies: false) { lean.append($0) }
            #expect(lean.map(\.exchange.id) == [1, 3, 1])
            #expect(lean[0].exchange.exchange.request.body.isEmpty && lean[0].exchange.exchange.request.target == "/openrtb2/auction?n=0")
            #expect(try db.replayedKeys(runID: run.id, after: 0, 1, limit: 10).map(\.exchangeID) == [2, 3, 1])
            #expect(sets[0].results[.baseline]?.response == ok)
            #expect(sets[0].results[.candidate]?.error == .timeout)
            #expect(sets[0].results[.candidate]?.errorMessage == "no response in 2000 ms")
            #expect(try db.run(named: nil).name == "r1")
            #expect(throws: ShadowError.unknownRun(path: dir + "/t.db", run: "nope")) { try db.run(named: "nope") }

            let one = try #require(try db.resultSet(runID: run.id, exchangeID: 2, pass: 0))
            #expect(one.exchange.exchange.request == sampleExchange(1).request && one.results.keys.sorted { $0.rawValue < $1.rawValue } == [.baseline])
            #expect(try db.resultSet(runID: run.id, exchangeID: 2, pass: 1) == nil)
            #expect(try db.passes(runID: run.id, exchangeID: 1) == [0, 1])
        }
    }

    /// The scan merge-joins results with their bodies and exchanges with theirs: a row missing on
    /// either side is passed over as a join would, and the rows around it are still paired right.
    @Test func scanPassesOverRowsWithoutTheirCounterpart() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/m.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "pcap", source: "x.pcap", filter: nil)
            let writer = ExchangeWriter(database: db, captureID: capture)
            for n in 0..<5 { try writer.append(sampleExchange(n)) }
            try writer.flush()
            let run = try db.createRun(name: "r", captureID: nil, config: "{}")
            var rows: [ResultRow] = []
            for id in Int64(1)...5 {
                for side in [Side.baseline, .candidate] {
                    rows.append(ResultRow(exchangeID: id, pass: 0, side: side, status: 200, firstByteNs: id, latencyNs: 10 * id,
                                          headers: "X-Id: \(id)", body: Array("\(side.rawValue) \(id)".utf8)))
                }
            }
            try db.insertResults(runID: run.id, rows)
            try db.pool.writeWithoutTransaction { db in  // without foreign keys: leaves a body without its result
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                try db.execute(sql: "DELETE FROM result_bodies WHERE exchange_id = 2 AND side = 'candidate'")
                try db.execute(sql: "DELETE FROM results WHERE exchange_id = 3 AND side = 'baseline'")
                try db.execute(sql: "DELETE FROM exchange_bodies WHERE exchange_id = 4")
                try db.execute(sql: "PRAGMA foreign_keys = ON")
            }
            var sets: [ResultSet] = []
            try db.scanResults(runID: run.id, requestBodies: false) { sets.append($0) }
            #expect(sets.map(\.exchange.id) == [1, 2, 3, 5])
            #expect(sets.map { $0.results.keys.map(\.rawValue).sorted() } == [["baseline", "candidate"], ["baseline"], ["candidate"], ["baseline", "candidate"]])
            for set in sets {
                for (side, result) in set.results {
                    #expect(result.response?.body == Array("\(side.rawValue) \(set.exchange.id)".utf8))
                    #expect(result.response?.headers == [HeaderField("X-Id", "\(set.exchange.id)")])
                    #expect(result.latencyNs == 10 * set.exchange.id)
                }
                #expect(set.exchange.exchange.request.target == "/openrtb2/auction?n=\(set.exchange.id - 1)")
            }
        }
    }

    @Test func verdictsAreKeptPerRunAndTheLatestIsListed() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/v.db", mode: .createIfMissing)
            let a = try db.createRun(name: "a", captureID: nil, config: "{}")
            _ = try db.createRun(name: "b", captureID: nil, config: "{}")
            #expect(try db.latestVerdicts().isEmpty)
            try db.recordVerdict(runID: a.id, StoredVerdict(
                passed: false, pairs: 10, mismatched: 4, failedGates: ["mismatch rate", "latency p99"], summary: "fail"))
            try db.recordVerdict(runID: a.id, StoredVerdict(passed: true, pairs: 10, mismatched: 0, failedGates: [], summary: "pass"))
            let latest = try db.latestVerdicts()
            #expect(latest.count == 1)
            #expect(latest[a.id].map { [$0.passed ? "pass" : "fail", $0.summary] } == ["pass", "pass"])
            #expect(latest[a.id]?.failedGates == [] && latest[a.id]?.createdAt.isEmpty == false)
        }
    }

    @Test func aVersion1DatabaseIsMigratedKeepingItsExchanges() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/v1.db"
            let queue = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(queue, upTo: "v1")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO captures (source_kind, source, started_at, status) VALUES ('pcap', 'old.pcap', 'then', 'complete')")
                try db.execute(sql: """
                    INSERT INTO exchanges (capture_id, capture_time_ns, connection, client, server, protocol, method, target, request_bytes)
                    VALUES (1, 1, 1, 'c', 's', 'http/1.1', 'GET', '/old', 0)
                    """)
            }
            try queue.close()
            let database = try ShadowDatabase(path: path, mode: .mustExist)
            let (version, row) = try database.pool.read { db in
                (try Int.fetchOne(db, sql: "PRAGMA user_version"),
                 try String.fetchOne(db, sql: "SELECT target || ':' || coalesce(prod_error, 'none') FROM exchanges"))
            }
            #expect(version == Schema.version)
            #expect(row == "/old:none")
        }
    }

    @Test func missingFileIsRefusedWhenItMustExist() throws {
        try withTemporaryDirectory { dir in
            #expect(throws: ShadowError.fileNotFound(path: dir + "/none.db")) {
                try ShadowDatabase(path: dir + "/none.db", mode: .mustExist)
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/none.db"))
        }
    }

    @Test func foreignFilesAreRefusedAndLeftUntouched() throws {
        try withTemporaryDirectory { dir in
            let text = dir + "/notes.txt"
            try Data("hello, not a database".utf8).write(to: URL(fileURLWithPath: text))
            #expect(throws: ShadowError.notADatabase(path: text, detail: "not an SQLite file")) {
                try ShadowDatabase(path: text, mode: .createIfMissing)
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: text)) == Data("hello, not a database".utf8))

            let foreign = dir + "/foreign.db"
            let queue = try DatabaseQueue(path: foreign)
            try queue.write { try $0.execute(sql: "CREATE TABLE t(x); INSERT INTO t VALUES (42)") }
            try queue.close()
            let before = try Data(contentsOf: URL(fileURLWithPath: foreign))
            #expect(throws: ShadowError.self) { try ShadowDatabase(path: foreign, mode: .mustExist) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)
        }
    }

    @Test func newerSchemaIsRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/new.db"
            do {
                let db = try ShadowDatabase(path: path, mode: .createIfMissing)
                try db.pool.write { db in
                    try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v99'); PRAGMA user_version = 99")
                }
                try db.pool.close()
            }
            #expect(throws: ShadowError.newerSchema(path: path, found: 99, supported: ShadowDatabase.schemaVersion)) {
                try ShadowDatabase(path: path, mode: .mustExist)
            }
        }
    }

    @Test func schemaViewsAnswerCommonQuestions() throws {
        try withTemporaryDirectory { dir in
            let db = try ShadowDatabase(path: dir + "/t.db", mode: .createIfMissing)
            let capture = try db.beginCapture(sourceKind: "pcap", source: "x.pcap", filter: nil)
            let writer = ExchangeWriter(database: db, captureID: capture)
            try writer.append(sampleExchange(1))
            try writer.flush()
            let run = try db.createRun(name: "r", captureID: capture, config: "{}")
            try db.insertResults(runID: run.id, [Side.baseline, .candidate].map { side in
                ResultRow(exchangeID: 1, pass: 0, side: side, status: 200, firstByteNs: 1, latencyNs: side == .baseline ? 100 : 300,
                          headers: "", body: [])
            })
            let row = try db.pool.read { try Row.fetchOne($0, sql: "SELECT * FROM result_pairs") }
            #expect(row?["baseline_latency_ns"] == 100)
            #expect(row?["candidate_latency_ns"] == 300)
            #expect(row?["run"] == "r")
            let journal = try db.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
            #expect(journal == "wal")
        }
    }
}
