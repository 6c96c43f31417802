import GRDB
import ShadowCore

/// One replayed request (an exchange in one pass) with what every side answered.
public struct ResultSet: Sendable {
    public var exchange: StoredExchange
    /// 0, or the pass of a looped run (`replay --loop`).
    public var pass: Int
    public var results: [Side: SideResult]
}

/// Where a scan of a run's results stands: after this pass and exchange id.
public struct ResultCursor: Sendable, Equatable {
    public var pass: Int
    public var exchangeID: Int64

    public init(pass: Int = 0, exchangeID: Int64 = 0) {
        self.pass = pass
        self.exchangeID = exchangeID
    }
}

extension ShadowDatabase {
    /// Up to `limit` replayed requests of a run after `cursor`, in (pass, exchange id) order,
    /// leaving out warm-up requests; an empty page ends the scan.
    public func results(runID: Int64, after cursor: ResultCursor, limit: Int) throws -> [ResultSet] {
        let rows: [Row] = try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.*, b.headers, b.body, b.error_message FROM results r
                JOIN result_bodies b USING (run_id, pass, exchange_id, side)
                WHERE r.run_id = ? AND r.warmup = 0 AND (r.pass, r.exchange_id) IN (
                    SELECT DISTINCT pass, exchange_id FROM results
                    WHERE run_id = ? AND warmup = 0 AND (pass, exchange_id) > (?, ?)
                    ORDER BY pass, exchange_id LIMIT ?)
                ORDER BY r.pass, r.exchange_id
                """, arguments: [runID, runID, cursor.pass, cursor.exchangeID, limit])
        }
        let exchanges = try self.exchanges(ids: Set(rows.map { $0["exchange_id"] as Int64 }))
        var sets: [ResultSet] = []
        for row in rows {
            guard let side = Side(rawValue: row["side"]) else { continue }
            let id: Int64 = row["exchange_id"]
            let pass: Int = row["pass"]
            if sets.last.map({ $0.pass != pass || $0.exchange.id != id }) ?? true {
                guard let stored = exchanges[id] else { continue }
                sets.append(ResultSet(exchange: stored, pass: pass, results: [:]))
            }
            let response = (row["status"] as Int?).map {
                RecordedResponse(status: $0, headers: [HeaderField](wireText: row["headers"] ?? ""), body: Self.bytes(row["body"]))
            }
            sets[sets.count - 1].results[side] = SideResult(
                exchangeID: id, side: side, response: response, firstByteNs: row["first_byte_ns"],
                latencyNs: row["latency_ns"], error: (row["error"] as String?).flatMap(ReplayErrorKind.init(rawValue:)),
                errorMessage: row["error_message"])
        }
        return sets
    }
}
