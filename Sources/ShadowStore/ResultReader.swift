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
            var results = try ResultScan(db: db, runID: runID)
            var exchanges = ExchangeScan(db: db, requestBodies: requestBodies)
            var pending: ResultSet?
            while let (pass, id, side) = try results.next() {
                if pending?.pass != pass || pending?.exchange.id != id {
                    if let done = pending { try visit(done) }
                    pending = nil
                    guard let stored = try exchanges.exchange(id: id) else { continue }
                    pending = ResultSet(exchange: stored, pass: pass, results: [:])
                }
                guard pending != nil, let result = results.sideResult(side: side) else { continue }
                pending!.results[side] = result
            }
            if let done = pending { try visit(done) }
        }
    }
}

/// A run's results (warm-up left out) with their bodies, in (pass, exchange id, side) order:
/// `results` and `result_bodies` are read by two cursors in the order of their common primary
/// key and merge-joined here, which costs one pass over each table instead of one body lookup per
/// result. As with a join, a result without a body row, or a body without a result, is passed over.
private struct ResultScan {
    private let results: SQLiteRows
    private var bodies: MergeCursor

    init(db: Database, runID: Int64) throws {
        results = try SQLiteRows(db, sql: """
            SELECT pass, exchange_id, side, status, first_byte_ns, latency_ns, error FROM results
            WHERE run_id = ? AND warmup = 0 ORDER BY pass, exchange_id, side
            """, arguments: [runID])
        bodies = MergeCursor(try SQLiteRows(db, sql: """
            SELECT pass, exchange_id, side, headers, body, error_message FROM result_bodies
            WHERE run_id = ? ORDER BY pass, exchange_id, side
            """, arguments: [runID]))
    }

    /// The next result that has a body, with the bodies cursor on its body; nil at the end.
    /// Results of an unknown side are passed over.
    mutating func next() throws -> (pass: Int, exchangeID: Int64, side: Side)? {
        while try results.next() {
            let pass = results.int64(0), id = results.int64(1)
            let sideText = results.utf8(2)
            let hasBody = try bodies.seek { body in
                let byPass = body.int64(0) < pass ? -1 : (body.int64(0) > pass ? 1 : 0)
                guard byPass == 0 else { return byPass }
                let byID = body.int64(1) < id ? -1 : (body.int64(1) > id ? 1 : 0)
                return byID == 0 ? binaryOrder(body.utf8(2), sideText) : byID
            }
            guard hasBody, let side = Side(rawValue: String(decoding: sideText, as: UTF8.self)) else { continue }
            return (Int(pass), id, side)
        }
        return nil
    }

    /// The current result with its body.
    func sideResult(side: Side) -> SideResult? {
        let bodies = bodies.rows
        let response = results.intOrNil(3).map { status in
            RecordedResponse(status: status, headers: [HeaderField](wireUTF8: bodies.utf8(3)), body: bodies.bytes(4))
        }
        return SideResult(
            exchangeID: results.int64(1), side: side, response: response, firstByteNs: results.int64OrNil(4),
            latencyNs: results.int64OrNil(5), error: results.text(6).flatMap(ReplayErrorKind.init(rawValue:)),
            errorMessage: bodies.text(5))
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

/// Exchanges read alongside a run's results, merge-joined by id: `exchanges` and `exchange_bodies`
/// each read by one cursor in id order (merge-joined with each other too), restarted when a new
/// pass starts over (or an id behind them is asked for).
private struct ExchangeScan {
    let db: Database
    let requestBodies: Bool
    private var heads: SQLiteRows?
    private var bodies: MergeCursor?
    private var last: StoredExchange?

    init(db: Database, requestBodies: Bool) {
        self.db = db
        self.requestBodies = requestBodies
    }

    mutating func exchange(id: Int64) throws -> StoredExchange? {
        if let last, last.id == id { return last }
        if heads == nil || (last?.id ?? Int64.min) > id {
            heads = try SQLiteRows(db, sql: """
                SELECT id, capture_id, capture_time_ns, connection, client, server, protocol, method, target,
                       prod_status, prod_latency_ns, prod_error
                FROM exchanges WHERE id >= ? ORDER BY id
                """, arguments: [id])
            bodies = MergeCursor(try SQLiteRows(db, sql: """
                SELECT exchange_id, prod_headers, prod_body,
                       \(requestBodies ? "request_version, request_headers, request_body" : "NULL, NULL, NULL")
                FROM exchange_bodies WHERE exchange_id >= ? ORDER BY exchange_id
                """, arguments: [id]))
        }
        guard let heads else { return nil }
        while try heads.next() {
            let headID = heads.int64(0)
            guard headID >= id,
                  try bodies!.seek({ $0.int64(0) < headID ? -1 : ($0.int64(0) > headID ? 1 : 0) }) else { continue }
            let stored = Self.storedExchange(heads, bodies!.rows)
            last = stored
            return stored.id == id ? stored : nil
        }
        return nil
    }

    /// The exchange the two cursors are on, read as `ShadowDatabase.storedExchange` reads a joined row.
    private static func storedExchange(_ e: SQLiteRows, _ b: SQLiteRows) -> StoredExchange {
        let request = RecordedRequest(
            method: e.text(7) ?? "", target: e.text(8) ?? "", version: b.text(3) ?? "HTTP/1.1",
            headers: [HeaderField](wireUTF8: b.utf8(4)), body: b.bytes(5))
        let response = e.intOrNil(9).map { status in
            RecordedResponse(status: status, headers: [HeaderField](wireUTF8: b.utf8(1)), body: b.bytes(2))
        }
        return StoredExchange(
            id: e.int64(0), captureID: e.int64(1),
            exchange: CapturedExchange(
                captureTimeNs: e.int64(2), connection: e.int64(3), client: e.text(4) ?? "", server: e.text(5) ?? "",
                wireProtocol: WireProtocol(rawValue: e.text(6) ?? "") ?? .http1,
                request: request, response: response, productionLatencyNs: e.int64OrNil(10), productionError: e.text(11)))
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
