import Foundation
import GRDB
import ShadowCore

/// A replay run as stored.
public struct RunInfo: Sendable {
    public var id: Int64
    public var name: String
    public var captureID: Int64?
    /// The run's full configuration, as the JSON the replayer stored.
    public var config: String
    public var startedAt: String
    public var finishedAt: String?
    /// `running`, `complete`, `failed`, or `interrupted` (stopped early, or its process ended
    /// without finishing it, e.g. killed).
    public var status: String
    public var counters: Counters
}

extension ShadowDatabase {
    /// Creates a run owned by this process; a name already used in this database is refused.
    public func createRun(name: String, captureID: Int64?, config: String) throws -> RunInfo {
        let owner = ProcessIdentity.current
        return try write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE name = ?", arguments: [name]) == true {
                throw ShadowError.invalidArgument(flag: "--run", detail: "a run named '\(name)' already exists in \(path)")
            }
            let startedAt = Self.now()
            try db.execute(
                sql: """
                    INSERT INTO runs (name, capture_id, config, started_at, status, pid, process_start)
                    VALUES (?, ?, ?, ?, 'running', ?, ?)
                    """,
                arguments: [name, captureID, config, startedAt, owner?.pid, owner?.start])
            return RunInfo(
                id: db.lastInsertedRowID, name: name, captureID: captureID, config: config, startedAt: startedAt,
                finishedAt: nil, status: "running", counters: Counters())
        }
    }

    /// Stores a run's final counters and status ('complete' or 'failed').
    public func finishRun(id: Int64, counters: Counters, status: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?", arguments: [Self.now(), status, id])
            try Self.replaceCounters(db, table: "run_counters", key: "run_id", id: id, counters: counters)
        }
    }

    /// The run named `name`, or the most recent run when `name` is nil.
    public func run(named name: String?) throws -> RunInfo {
        let found: RunInfo? = try pool.read { db in
            let row = try name.map { try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE name = ?", arguments: [$0]) }
                ?? Row.fetchOne(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT 1")
            guard let row else { return nil }
            let id: Int64 = row["id"]
            var status: String = row["status"]
            if status == "running" && ProcessIdentity.hasEnded(pid: row["pid"], start: row["process_start"]) {
                status = "interrupted"
            }
            return RunInfo(
                id: id, name: row["name"], captureID: row["capture_id"], config: row["config"],
                startedAt: row["started_at"], finishedAt: row["finished_at"], status: status,
                counters: try Self.counters(db, table: "run_counters", key: "run_id", id: id))
        }
        guard let found else { throw ShadowError.unknownRun(path: path, run: name ?? "(latest)") }
        return found
    }

    /// Every run, oldest first.
    public func runs() throws -> [RunInfo] {
        let names = try pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM runs ORDER BY id") }
        return try names.map { try run(named: $0) }
    }
}

/// What a diff of a run concluded, as the `verdicts` table stores it.
public struct StoredVerdict: Sendable, Equatable {
    public var createdAt: String
    public var passed: Bool
    public var pairs: Int64
    public var mismatched: Int64
    /// Names of the gates crossed; empty when passed.
    public var failedGates: [String]
    public var summary: String

    public init(createdAt: String = "", passed: Bool, pairs: Int64, mismatched: Int64, failedGates: [String], summary: String) {
        self.createdAt = createdAt
        self.passed = passed
        self.pairs = pairs
        self.mismatched = mismatched
        self.failedGates = failedGates
        self.summary = summary
    }
}

extension ShadowDatabase {
    /// Records a diff's verdict on a run (stamped now); the run's earlier verdicts are kept.
    public func recordVerdict(runID: Int64, _ verdict: StoredVerdict) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO verdicts (run_id, created_at, passed, pairs, mismatched, failed_gates, summary)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [runID, Self.now(), verdict.passed, verdict.pairs, verdict.mismatched,
                            verdict.failedGates.joined(separator: ", "), verdict.summary])
        }
    }

    /// The latest verdict of each run that has one, by run id.
    public func latestVerdicts() throws -> [Int64: StoredVerdict] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT v.* FROM verdicts v
                WHERE v.id = (SELECT max(id) FROM verdicts WHERE run_id = v.run_id)
                """)
            return Dictionary(uniqueKeysWithValues: rows.map { row in
                let gates: String = row["failed_gates"]
                return (row["run_id"] as Int64, StoredVerdict(
                    createdAt: row["created_at"], passed: row["passed"], pairs: row["pairs"], mismatched: row["mismatched"],
                    failedGates: gates.isEmpty ? [] : gates.components(separatedBy: ", "), summary: row["summary"]))
            })
        }
    }
}

/// One side's answer to one replayed request, as the `results` and `result_bodies` rows store it.
public struct ResultRow: Sendable {
    public var exchangeID: Int64
    public var pass: Int
    public var side: Side
    public var status: Int?
    public var firstByteNs: Int64?
    public var latencyNs: Int64?
    public var serviceNs: Int64?
    public var sendLagNs: Int64?
    public var scheduledNs: Int64?
    /// The response's header section as received: `Name: value` lines joined by CRLF.
    public var headers: String?
    public var body: [UInt8]?
    public var error: ReplayErrorKind?
    public var errorMessage: String?
    public var warmup: Bool
    /// The connection was set up on the request's clock, so its latency includes the set-up.
    public var reconnect: Bool

    public init(
        exchangeID: Int64, pass: Int, side: Side, status: Int? = nil, firstByteNs: Int64? = nil, latencyNs: Int64? = nil,
        serviceNs: Int64? = nil, sendLagNs: Int64? = nil, scheduledNs: Int64? = nil, headers: String? = nil,
        body: [UInt8]? = nil, error: ReplayErrorKind? = nil, errorMessage: String? = nil, warmup: Bool = false,
        reconnect: Bool = false
    ) {
        self.exchangeID = exchangeID
        self.pass = pass
        self.side = side
        self.status = status
        self.firstByteNs = firstByteNs
        self.latencyNs = latencyNs
        self.serviceNs = serviceNs
        self.sendLagNs = sendLagNs
        self.scheduledNs = scheduledNs
        self.headers = headers
        self.body = body
        self.error = error
        self.errorMessage = errorMessage
        self.warmup = warmup
        self.reconnect = reconnect
    }
}

extension ShadowDatabase {
    /// Writes `rows` in one transaction: all of them, or none.
    public func insertResults(runID: Int64, _ rows: [ResultRow]) throws {
        var binder = SQLiteBinder()
        try write { db in
            let meta = try db.cachedStatement(sql: """
                INSERT INTO results (run_id, pass, exchange_id, side, status, first_byte_ns, latency_ns, service_ns,
                                     send_lag_ns, scheduled_ns, response_bytes, error, warmup, reconnect)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).sqliteStatement
            let bodies = try db.cachedStatement(sql: """
                INSERT INTO result_bodies (run_id, pass, exchange_id, side, headers, body, error_message)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).sqliteStatement
            for r in rows {
                binder.begin(meta)
                binder.bind(runID)
                binder.bind(Int64(r.pass))
                binder.bind(r.exchangeID)
                binder.bind(r.side.rawValue)
                binder.bind(r.status.map(Int64.init))
                binder.bind(r.firstByteNs)
                binder.bind(r.latencyNs)
                binder.bind(r.serviceNs)
                binder.bind(r.sendLagNs)
                binder.bind(r.scheduledNs)
                binder.bind(r.body.map { Int64($0.count) })
                binder.bind(r.error?.rawValue)
                binder.bind(Int64(r.warmup ? 1 : 0))
                binder.bind(Int64(r.reconnect ? 1 : 0))
                try binder.step(db)

                binder.begin(bodies)
                binder.bind(runID)
                binder.bind(Int64(r.pass))
                binder.bind(r.exchangeID)
                binder.bind(r.side.rawValue)
                binder.bind(r.headers)
                if let body = r.body { binder.bindBlob(body) } else { binder.bind(nil as Int64?) }
                binder.bind(r.errorMessage)
                try binder.step(db)
            }
        }
    }

    /// Up to `limit` (pass, exchange id) keys of a run already replayed, after (`pass`, `exchangeID`),
    /// in order. `replay --resume` skips these.
    public func replayedKeys(runID: Int64, after pass: Int, _ exchangeID: Int64, limit: Int) throws -> [(pass: Int, exchangeID: Int64)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT DISTINCT pass, exchange_id FROM results
                WHERE run_id = ? AND (pass, exchange_id) > (?, ?) ORDER BY pass, exchange_id LIMIT ?
                """, arguments: [runID, pass, exchangeID, limit]).map { (pass: $0[0], exchangeID: $0[1]) }
        }
    }

    /// Requests of a run stored so far: (pass, exchange) keys with results, every side of one stored together.
    public func replayedCount(runID: Int64) throws -> Int64 {
        try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT count(*) FROM (SELECT DISTINCT pass, exchange_id FROM results WHERE run_id = ?)",
                               arguments: [runID]) ?? 0
        }
    }

    /// Makes this process the owner of run `id` again (`replay --resume`). Refused, changing
    /// nothing, while another live process is replaying it.
    public func reopenRun(id: Int64) throws {
        let owner = ProcessIdentity.current
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT name, status, pid, process_start FROM runs WHERE id = ?", arguments: [id])
            else { throw ShadowError.unknownRun(path: path, run: "#\(id)") }
            let pid: Int64? = row["pid"]
            if row["status"] == "running", let pid, pid != owner?.pid,
               !ProcessIdentity.hasEnded(pid: pid, start: row["process_start"]) {
                let name: String = row["name"]
                throw ShadowError.invalidArgument(
                    flag: "--resume", detail: "run '\(name)' in \(path) is still being replayed by pid \(pid); stop that replay first")
            }
            try db.execute(
                sql: "UPDATE runs SET finished_at = NULL, status = 'running', pid = ?, process_start = ? WHERE id = ?",
                arguments: [owner?.pid, owner?.start, id])
        }
    }
}
