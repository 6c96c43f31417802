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
    public var status: String
    public var counters: Counters
}

extension ShadowDatabase {
    /// Creates a run; a name already used in this database is refused.
    public func createRun(name: String, captureID: Int64?, config: String) throws -> RunInfo {
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE name = ?", arguments: [name]) == true {
                throw ShadowError.invalidArgument(flag: "--run", detail: "a run named '\(name)' already exists in \(path)")
            }
            let startedAt = Self.now()
            try db.execute(
                sql: "INSERT INTO runs (name, capture_id, config, started_at, status) VALUES (?, ?, ?, ?, 'running')",
                arguments: [name, captureID, config, startedAt])
            return RunInfo(
                id: db.lastInsertedRowID, name: name, captureID: captureID, config: config, startedAt: startedAt,
                finishedAt: nil, status: "running", counters: Counters())
        }
    }

    /// Stores a run's final counters and status ('complete' or 'failed').
    public func finishRun(id: Int64, counters: Counters, status: String) throws {
        try pool.write { db in
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
            return RunInfo(
                id: id, name: row["name"], captureID: row["capture_id"], config: row["config"],
                startedAt: row["started_at"], finishedAt: row["finished_at"], status: row["status"],
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

/// Buffers replay results and writes them in one transaction per batch.
///
/// Not thread-safe: one writer belongs to one consuming task. Call `flush()` at the end.
public final class ResultWriter {
    private let database: ShadowDatabase
    private let runID: Int64
    private let batchSize: Int
    private var pending: [SideResult] = []
    public private(set) var committed: Int64 = 0

    public init(database: ShadowDatabase, runID: Int64, batchSize: Int = 500) {
        self.database = database
        self.runID = runID
        self.batchSize = max(1, batchSize)
    }

    public func append(_ result: SideResult) throws {
        pending.append(result)
        if pending.count >= batchSize { try flush() }
    }

    public func flush() throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        let runID = runID
        try database.pool.write { db in
            let meta = try db.cachedStatement(sql: """
                INSERT INTO results (run_id, exchange_id, side, status, first_byte_ns, latency_ns, response_bytes, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let bodies = try db.cachedStatement(sql: """
                INSERT INTO result_bodies (run_id, exchange_id, side, headers, body, error_message) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for r in batch {
                try meta.execute(arguments: [
                    runID, r.exchangeID, r.side.rawValue, r.response?.status, r.firstByteNs, r.latencyNs,
                    r.response?.body.count, r.error?.rawValue,
                ])
                try bodies.execute(arguments: [
                    runID, r.exchangeID, r.side.rawValue, r.response?.headers.wireText,
                    r.response.map { Data($0.body) }, r.errorMessage,
                ])
            }
        }
        committed += Int64(batch.count)
        pending.removeAll(keepingCapacity: true)
    }
}
