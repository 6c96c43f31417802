import GRDB
import GRDBSQLite
import ShadowCore

/// A segment of a capture's spooled records: stored whole, in one row of `spooled_exchanges`,
/// until it is expanded into `exchanges`. The store does not read its bytes; the tee encodes them.
public struct SpooledSegment: Sendable {
    public var id: Int64
    public var records: Int
    public var bytes: [UInt8]
}

extension ShadowDatabase {
    /// Stores `segments` of `captureID`, each with the number of records it holds, and, when given,
    /// replaces the capture's counters, in one transaction.
    public func spool(captureID: Int64, segments: [(records: Int, bytes: [UInt8])], counters: Counters? = nil) throws {
        guard !segments.isEmpty || counters != nil else { return }
        var binder = SQLiteBinder()
        try write { db in
            if let counters {
                try Self.replaceCounters(db, table: "capture_counters", key: "capture_id", id: captureID, counters: counters)
            }
            let insert = try db.cachedStatement(
                sql: "INSERT INTO spooled_exchanges (capture_id, records, segment) VALUES (?, ?, ?)").sqliteStatement
            for segment in segments {
                binder.begin(insert)
                binder.bind(captureID)
                binder.bind(Int64(segment.records))
                binder.bindBlob(segment.bytes)
                try binder.step(db)
            }
        }
    }

    /// The oldest `limit` segments `captureID` still has spooled, unreadable ones (zero records)
    /// passed over.
    public func oldestSpooledSegments(captureID: Int64, limit: Int) throws -> [SpooledSegment] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, records, segment FROM spooled_exchanges
                WHERE capture_id = ? AND records > 0 ORDER BY id LIMIT ?
                """, arguments: [captureID, limit]).map { row in
                SpooledSegment(id: row[0], records: row[1], bytes: try Self.bytes(row, 2))
            }
        }
    }

    /// Replaces `segments` of `captureID` with `exchanges`, their records as stored, in one
    /// transaction: a segment is either still spooled or wholly expanded, never both.
    public func expand(_ segments: [SpooledSegment], of captureID: Int64, into exchanges: [EncodedExchange]) throws {
        var binder = SQLiteBinder()
        try write { db in
            try ExchangeWriter.insert(exchanges, captureID: captureID, db: db, binder: &binder)
            for segment in segments {
                try db.execute(sql: "DELETE FROM spooled_exchanges WHERE id = ?", arguments: [segment.id])
            }
        }
    }

    /// Keeps `segment` spooled with zero records: its bytes do not decode, and its records are
    /// counted as lost; the row stays for a person to inspect.
    public func markUnreadable(_ segment: SpooledSegment) throws {
        try write { db in
            try db.execute(sql: "UPDATE spooled_exchanges SET records = 0 WHERE id = ?", arguments: [segment.id])
        }
    }

    /// Adds `counters` to those stored for capture `id`.
    public func addCaptureCounters(id: Int64, counters: Counters) throws {
        try write { db in
            for (name, value) in counters.values {
                try db.execute(sql: """
                    INSERT INTO capture_counters (capture_id, name, value) VALUES (?, ?, ?)
                    ON CONFLICT (capture_id, name) DO UPDATE SET value = value + excluded.value
                    """, arguments: [id, name, value])
            }
        }
    }

    /// Records spooled and not yet expanded, per capture, for captures no live process is writing.
    public func spooledRecordsOfEndedCaptures() throws -> [(captureID: Int64, records: Int64)] {
        try markAbandonedCaptures()
        return try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.capture_id, sum(s.records) AS n FROM spooled_exchanges s JOIN captures c ON c.id = s.capture_id
                WHERE c.status != 'running' AND s.records > 0 GROUP BY s.capture_id ORDER BY s.capture_id
                """).map { ($0["capture_id"], $0["n"]) }
        }
    }
}
