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
    /// Records a tee spooled and has not expanded into `exchanges` yet.
    public var spooled: Int64
    public var counters: Counters
    /// pcap imports: what `capture --resume` checks the file and settings against (the importer's JSON).
    public var resumeKey: String?
}

extension ShadowDatabase {
    /// Records the start of a capture by this process and returns its id. Call `finishCapture` at
    /// the end, also after a failure, so its counters and status are stored. Captures left running
    /// by a process that ended are marked interrupted first.
    public func beginCapture(sourceKind: String, source: String, filter: String?, resumeKey: String? = nil) throws -> Int64 {
        let owner = ProcessIdentity.current
        return try write { db in
            try Self.markAbandonedCaptures(db)
            try db.execute(
                sql: """
                    INSERT INTO captures (source_kind, source, filter, started_at, status, pid, process_start, resume_key)
                    VALUES (?, ?, ?, ?, 'running', ?, ?, ?)
                    """,
                arguments: [sourceKind, source, filter, Self.now(), owner?.pid, owner?.start, resumeKey])
            return db.lastInsertedRowID
        }
    }

    /// Marks 'interrupted' every capture still 'running' whose process has ended (killed, crashed),
    /// keeping what it committed.
    public func markAbandonedCaptures() throws {
        try write { db in try Self.markAbandonedCaptures(db) }
    }

    private static func markAbandonedCaptures(_ db: Database) throws {
        for row in try Row.fetchAll(db, sql: "SELECT id, pid, process_start FROM captures WHERE status = 'running'") {
            let pid: Int64? = row["pid"]
            guard let pid, ProcessIdentity.hasEnded(pid: pid, start: row["process_start"]) else { continue }
            try db.execute(
                sql: "UPDATE captures SET status = 'interrupted', error = ? WHERE id = ?",
                arguments: ["its process (pid \(pid)) ended before finishing it (killed or crashed); what it committed is kept",
                            row["id"] as Int64])
        }
    }

    /// Takes over the latest capture of `source` so that this process continues it, and returns it
    /// as it was. Refused with a `ShadowError` naming the capture when there is none, when it is
    /// complete or still running, or when `check` throws; nothing is changed then.
    public func reopenCapture(sourceKind: String, source: String, check: (CaptureInfo) throws -> Void) throws -> CaptureInfo {
        let owner = ProcessIdentity.current
        return try write { db in
            try Self.markAbandonedCaptures(db)
            guard let row = try Row.fetchOne(db, sql: """
                \(Self.selectCaptures) WHERE source_kind = ? AND source = ? ORDER BY id DESC LIMIT 1
                """, arguments: [sourceKind, source])
            else {
                throw ShadowError.invalidArgument(flag: "--resume", detail: "\(path) holds no capture of \(source) to resume")
            }
            let capture = try Self.captureInfo(db, row)
            switch capture.status {
            case "complete":
                throw ShadowError.invalidArgument(
                    flag: "--resume", detail: "capture \(capture.id) of \(source) in \(path) is complete; nothing to resume")
            case "running":
                let pid = (row["pid"] as Int64?).map { " (pid \($0))" } ?? ""
                throw ShadowError.invalidArgument(
                    flag: "--resume", detail: "capture \(capture.id) of \(source) in \(path) is still running\(pid)")
            default:
                try check(capture)
            }
            try db.execute(
                sql: """
                    UPDATE captures SET status = 'running', error = NULL, finished_at = NULL, pid = ?, process_start = ?
                    WHERE id = ?
                    """,
                arguments: [owner?.pid, owner?.start, capture.id])
            return capture
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
            try Row.fetchAll(db, sql: "\(Self.selectCaptures) ORDER BY c.id").map { try Self.captureInfo(db, $0) }
        }
    }

    /// Captures with their exchange count (`n`) and spooled records (`spooled`), as `captureInfo` reads them.
    private static let selectCaptures = """
        SELECT c.*, (SELECT count(*) FROM exchanges e WHERE e.capture_id = c.id) AS n,
               (SELECT coalesce(sum(records), 0) FROM spooled_exchanges s WHERE s.capture_id = c.id) AS spooled
        FROM captures c
        """

    /// A `captures` row selected by `selectCaptures`.
    private static func captureInfo(_ db: Database, _ row: Row) throws -> CaptureInfo {
        let id: Int64 = row["id"]
        return CaptureInfo(
            id: id, sourceKind: row["source_kind"], source: row["source"], filter: row["filter"],
            status: row["status"], error: row["error"], startedAt: row["started_at"], exchanges: row["n"],
            spooled: row["spooled"],
            counters: try counters(db, table: "capture_counters", key: "capture_id", id: id), resumeKey: row["resume_key"])
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
