import GRDB
import ShadowCore

/// One replayed exchange with what every side answered.
public struct ResultSet: Sendable {
    public var exchange: StoredExchange
    public var results: [Side: SideResult]
}

extension ShadowDatabase {
    /// Up to `limit` replayed exchanges of a run with exchange id greater than `afterID`, in id
    /// order; an empty page ends the scan.
    public func results(runID: Int64, afterID: Int64, limit: Int) throws -> [ResultSet] {
        let ids: [Int64] = try pool.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT DISTINCT exchange_id FROM results WHERE run_id = ? AND exchange_id > ?
                ORDER BY exchange_id LIMIT ?
                """, arguments: [runID, afterID, limit])
        }
        guard let first = ids.first, let last = ids.last else { return [] }
        let wanted = Set(ids)
        let exchanges = try self.exchanges(captureID: nil, afterID: first - 1, limit: Int(last - first + 1))
            .filter { wanted.contains($0.id) }
        let rows: [Row] = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.*, b.headers, b.body, b.error_message FROM results r
                JOIN result_bodies b USING (run_id, exchange_id, side)
                WHERE r.run_id = ? AND r.exchange_id BETWEEN ? AND ?
                """, arguments: [runID, first, last])
        }
        var bySide: [Int64: [Side: SideResult]] = [:]
        for row in rows {
            guard let side = Side(rawValue: row["side"]) else { continue }
            let id: Int64 = row["exchange_id"]
            let response = (row["status"] as Int?).map {
                RecordedResponse(status: $0, headers: [HeaderField](wireText: row["headers"] ?? ""), body: Self.bytes(row["body"]))
            }
            bySide[id, default: [:]][side] = SideResult(
                exchangeID: id, side: side, response: response, firstByteNs: row["first_byte_ns"],
                latencyNs: row["latency_ns"], error: (row["error"] as String?).flatMap(ReplayErrorKind.init(rawValue:)),
                errorMessage: row["error_message"])
        }
        return exchanges.compactMap { stored in
            bySide[stored.id].map { ResultSet(exchange: stored, results: $0) }
        }
    }
}
