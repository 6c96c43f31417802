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
                \(Self.selectResults) WHERE r.run_id = ? AND r.warmup = 0
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
                pending?.results[side] = try Self.sideResult(row, side: side)
            }
            if let done = pending { try visit(done) }
        }
    }
}

extension ShadowDatabase {
    /// The results query: pass, exchange id, side, then what `sideResult` reads.
    static let selectResults = """
        SELECT r.pass, r.exchange_id, r.side, r.status, r.first_byte_ns, r.latency_ns, r.error,
               b.headers, b.body, b.error_message
        FROM results r JOIN result_bodies b USING (run_id, pass, exchange_id, side)
        """

    /// A row of `selectResults`, read by column position.
    static func sideResult(_ row: Row, side: Side) throws -> SideResult {
        let response = try (row[3] as Int?).map {
            RecordedResponse(status: $0, headers: [HeaderField](wireText: row[7] ?? ""), body: try bytes(row, 8))
        }
        return SideResult(
            exchangeID: row[1], side: side, response: response, firstByteNs: row[4], latencyNs: row[5],
            error: (row[6] as String?).flatMap(ReplayErrorKind.init(rawValue:)), errorMessage: row[9])
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

extension ShadowDatabase {
    /// One replayed request of a run with its request body and every side's answer (warm-up
    /// requests included), or nil when the run has no result for that exchange and pass.
    public func resultSet(runID: Int64, exchangeID: Int64, pass: Int) throws -> ResultSet? {
        try pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "\(Self.selectResults) WHERE r.run_id = ? AND r.exchange_id = ? AND r.pass = ?",
                arguments: [runID, exchangeID, pass])
            guard !rows.isEmpty,
                  let exchangeRow = try Row.fetchOne(
                      db, sql: "\(Self.selectExchanges(requestBodies: true)) WHERE e.id = ?", arguments: [exchangeID])
            else { return nil }
            var set = ResultSet(exchange: try Self.storedExchange(exchangeRow), pass: pass, results: [:])
            for row in rows {
                guard let side = Side(rawValue: row[2]) else { continue }
                set.results[side] = try Self.sideResult(row, side: side)
            }
            return set
        }
    }

    /// The passes in which a run replayed an exchange, in order.
    public func passes(runID: Int64, exchangeID: Int64) throws -> [Int] {
        try pool.read { db in
            try Int.fetchAll(
                db, sql: "SELECT DISTINCT pass FROM results WHERE run_id = ? AND exchange_id = ? ORDER BY pass",
                arguments: [runID, exchangeID])
        }
    }
}
