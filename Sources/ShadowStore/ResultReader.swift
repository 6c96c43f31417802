import Foundation
import GRDB
import ShadowCore

/// One replayed request (an exchange in one pass) with what every side answered.
public struct ResultSet: Sendable {
    public var exchange: StoredExchange
    /// 0, or the pass of a looped run (`replay --loop`).
    public var pass: Int
    public var results: [Side: SideResult]
}

extension ShadowDatabase {
    /// Visits every replayed request of a run in (pass, exchange id) order, leaving out warm-up
    /// requests, streaming through one read transaction (a consistent snapshot) with memory
    /// bounded by one result set.
    ///
    /// Each exchange carries its method, target and production answer; its request headers and
    /// body only when `requestBodies` is true (they cost a read the differ often does not need).
    public func scanResults(runID: Int64, requestBodies: Bool = true, _ visit: (ResultSet) throws -> Void) throws {
        try pool.read { db in
            let results = try Row.fetchCursor(db, sql: """
                SELECT r.pass, r.exchange_id, r.side, r.status, r.first_byte_ns, r.latency_ns, r.error,
                       b.headers, b.body, b.error_message
                FROM results r JOIN result_bodies b USING (run_id, pass, exchange_id, side)
                WHERE r.run_id = ? AND r.warmup = 0
                ORDER BY r.pass, r.exchange_id
                """, arguments: [runID])
            var exchanges = ExchangeScan(db: db, requestBodies: requestBodies)
            var pending: ResultSet?
            while let row = try results.next() {
                guard let side = Side(rawValue: row[2]) else { continue }
                let pass: Int = row[0]
                let id: Int64 = row[1]
                if pending?.pass != pass || pending?.exchange.id != id {
                    if let done = pending { try visit(done) }
                    pending = nil
                    guard let stored = try exchanges.exchange(id: id) else { continue }
                    pending = ResultSet(exchange: stored, pass: pass, results: [:])
                }
                let response = try (row[3] as Int?).map {
                    RecordedResponse(status: $0, headers: [HeaderField](wireText: row[7] ?? ""), body: try Self.bytes(row, 8))
                }
                pending?.results[side] = SideResult(
                    exchangeID: id, side: side, response: response, firstByteNs: row[4], latencyNs: row[5],
                    error: (row[6] as String?).flatMap(ReplayErrorKind.init(rawValue:)), errorMessage: row[9])
            }
            if let done = pending { try visit(done) }
        }
    }
}

/// Exchanges read alongside a run's results, merge-joined by id: one cursor in id order,
/// restarted when a new pass starts over (or an id behind it is asked for).
private struct ExchangeScan {
    let db: Database
    let requestBodies: Bool
    private var cursor: RowCursor?
    private var last: StoredExchange?

    init(db: Database, requestBodies: Bool) {
        self.db = db
        self.requestBodies = requestBodies
    }

    mutating func exchange(id: Int64) throws -> StoredExchange? {
        if let last, last.id == id { return last }
        if cursor == nil || (last?.id ?? Int64.min) > id {
            cursor = try Row.fetchCursor(
                db, sql: "\(ShadowDatabase.selectExchanges(requestBodies: requestBodies)) WHERE e.id >= ? ORDER BY e.id",
                arguments: [id])
        }
        while let row = try cursor?.next() {
            guard row[0] as Int64 >= id else { continue }
            let stored = try ShadowDatabase.storedExchange(row)
            last = stored
            return stored.id == id ? stored : nil
        }
        return nil
    }
}
