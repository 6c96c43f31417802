import Foundation
import GRDB
import ShadowCore

/// A stored exchange: its id in the database plus what was captured.
public struct StoredExchange: Sendable {
    public var id: Int64
    public var captureID: Int64
    public var exchange: CapturedExchange
}

extension ShadowDatabase {
    /// Up to `limit` exchanges with id greater than `afterID`, in id order; an empty page ends
    /// the scan. Paging keeps memory bounded however large the capture.
    public func exchanges(captureID: Int64?, afterID: Int64, limit: Int) throws -> [StoredExchange] {
        try pool.read { db in
            let sql = """
                \(Self.selectExchanges(requestBodies: true))
                WHERE e.id > ? \(captureID == nil ? "" : "AND e.capture_id = ?")
                ORDER BY e.id LIMIT ?
                """
            var arguments: StatementArguments = [afterID]
            if let captureID { arguments += [captureID] }
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.storedExchange)
        }
    }

    /// The exchanges query; without `requestBodies` the request's version, headers and body
    /// are not read (they come back empty).
    static func selectExchanges(requestBodies: Bool) -> String {
        """
        SELECT e.id, e.capture_id, e.capture_time_ns, e.connection, e.client, e.server, e.protocol, e.method, e.target,
               e.prod_status, e.prod_latency_ns, e.prod_error, b.prod_headers, b.prod_body,
               \(requestBodies ? "b.request_version, b.request_headers, b.request_body" : "NULL, NULL, NULL")
        FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id
        """
    }

    /// A row of `selectExchanges`, read by column position.
    static func storedExchange(_ row: Row) throws -> StoredExchange {
        let request = RecordedRequest(
            method: row[7], target: row[8], version: row[14] ?? "HTTP/1.1",
            headers: [HeaderField](wireText: row[15] ?? ""), body: try bytes(row, 16))
        var response: RecordedResponse?
        if let status: Int = row[9] {
            response = RecordedResponse(status: status, headers: [HeaderField](wireText: row[12] ?? ""), body: try bytes(row, 13))
        }
        return StoredExchange(
            id: row[0], captureID: row[1],
            exchange: CapturedExchange(
                captureTimeNs: row[2], connection: row[3], client: row[4], server: row[5],
                wireProtocol: WireProtocol(rawValue: row[6]) ?? .http1,
                request: request, response: response, productionLatencyNs: row[10], productionError: row[11]))
    }

    /// The blob at `index` of a row, copied once.
    static func bytes(_ row: Row, _ index: Int) throws -> [UInt8] {
        try row.withUnsafeData(atIndex: index) { data in data.map { [UInt8]($0) } ?? [] }
    }
}

/// A stored request as the replayer needs it: decoded by column position, headers kept as the
/// store's text (`Name: value` lines joined by CRLF), so that a page is cheap to read.
public struct StoredRequest: Sendable {
    public var id: Int64
    public var captureTimeNs: Int64
    public var method: String
    public var target: String
    public var headers: String
    public var body: [UInt8]
    public var wireProtocol: WireProtocol

    public init(
        id: Int64, captureTimeNs: Int64, method: String, target: String, headers: String, body: [UInt8],
        wireProtocol: WireProtocol = .http1
    ) {
        self.id = id
        self.captureTimeNs = captureTimeNs
        self.wireProtocol = wireProtocol
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The path without the query string.
    public var path: Substring { RecordedRequest.path(of: target) }
}

extension ShadowDatabase {
    /// Up to `limit` stored requests with id greater than `afterID`, in id order.
    public func requests(captureID: Int64?, afterID: Int64, limit: Int) throws -> [StoredRequest] {
        try pool.read { db in
            let sql = """
                SELECT e.id, e.capture_time_ns, e.method, e.target, b.request_headers, b.request_body, e.protocol
                FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id
                WHERE e.id > ? \(captureID == nil ? "" : "AND e.capture_id = ?")
                ORDER BY e.id LIMIT ?
                """
            var arguments: StatementArguments = [afterID]
            if let captureID { arguments += [captureID] }
            arguments += [limit]
            var page: [StoredRequest] = []
            page.reserveCapacity(limit)
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
            while let row = try rows.next() {
                page.append(StoredRequest(
                    id: row[0], captureTimeNs: row[1], method: row[2], target: row[3], headers: row[4], body: try Self.bytes(row, 5),
                    wireProtocol: WireProtocol(rawValue: row[6]) ?? .http1))
            }
            return page
        }
    }
}
