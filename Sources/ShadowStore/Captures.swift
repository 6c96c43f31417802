import GRDB
import ShadowCore

/// One capture as listed by `shadowdiff captures`.
public struct CaptureInfo: Sendable {
    public var id: Int64
    public var sourceKind: String
    public var source: String
    public var filter: String?
    public var status: String
    public var error: String?
    public var startedAt: String
    public var exchanges: Int64
    public var counters: Counters
}

extension ShadowDatabase {
    /// Records the start of a capture and returns its id. Call `finishCapture` at the end,
    /// also after a failure, so its counters and status are stored.
    public func beginCapture(sourceKind: String, source: String, filter: String?) throws -> Int64 {
        try write { db in
            try db.execute(
                sql: "INSERT INTO captures (source_kind, source, filter, started_at, status) VALUES (?, ?, ?, ?, 'running')",
                arguments: [sourceKind, source, filter, Self.now()])
            return db.lastInsertedRowID
        }
    }

    /// Stores a capture's final counters, packet time range and status.
    public func finishCapture(
        id: Int64, counters: Counters, linkType: String?, firstPacketNs: Int64?, lastPacketNs: Int64?,
        error: String?
    ) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE captures SET link_type = ?, first_packet_ns = ?, last_packet_ns = ?,
                        finished_at = ?, status = ?, error = ? WHERE id = ?
                    """,
                arguments: [linkType, firstPacketNs, lastPacketNs, Self.now(), error == nil ? "complete" : "failed", error, id])
            try Self.replaceCounters(db, table: "capture_counters", key: "capture_id", id: id, counters: counters)
        }
    }

    /// Replaces a running capture's stored counters (live sessions store them as they go).
    public func storeCaptureCounters(id: Int64, counters: Counters) throws {
        try write { db in
            try Self.replaceCounters(db, table: "capture_counters", key: "capture_id", id: id, counters: counters)
        }
    }

    static func replaceCounters(_ db: Database, table: String, key: String, id: Int64, counters: Counters) throws {
        try db.execute(sql: "DELETE FROM \(table) WHERE \(key) = ?", arguments: [id])
        for (name, value) in counters.values.sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "INSERT INTO \(table) (\(key), name, value) VALUES (?, ?, ?)", arguments: [id, name, value])
        }
    }

    /// Every capture, oldest first, with its exchange count and counters.
    public func captures() throws -> [CaptureInfo] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.*, (SELECT count(*) FROM exchanges e WHERE e.capture_id = c.id) AS n
                FROM captures c ORDER BY c.id
                """)
            return try rows.map { row in
                let id: Int64 = row["id"]
                return CaptureInfo(
                    id: id, sourceKind: row["source_kind"], source: row["source"], filter: row["filter"],
                    status: row["status"], error: row["error"], startedAt: row["started_at"], exchanges: row["n"],
                    counters: try Self.counters(db, table: "capture_counters", key: "capture_id", id: id))
            }
        }
    }

    static func counters(_ db: Database, table: String, key: String, id: Int64) throws -> Counters {
        var counters = Counters()
        for row in try Row.fetchAll(db, sql: "SELECT name, value FROM \(table) WHERE \(key) = ?", arguments: [id]) {
            counters.add(row["name"] as String, row["value"] as Int64)
        }
        return counters
    }

    /// Number of exchanges stored, in one capture or in all.
    public func exchangeCount(captureID: Int64? = nil) throws -> Int64 {
        try pool.read { db in
            if let captureID {
                return try Int64.fetchOne(db, sql: "SELECT count(*) FROM exchanges WHERE capture_id = ?", arguments: [captureID]) ?? 0
            }
            return try Int64.fetchOne(db, sql: "SELECT count(*) FROM exchanges") ?? 0
        }
    }
}
