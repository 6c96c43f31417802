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
                SELECT e.*, b.request_version, b.request_headers, b.request_body, b.prod_headers, b.prod_body
                FROM exchanges e JOIN exchange_bodies b ON b.exchange_id = e.id
                WHERE e.id > ? \(captureID == nil ? "" : "AND e.capture_id = ?")
                ORDER BY e.id LIMIT ?
                """
            var arguments: StatementArguments = [afterID]
            if let captureID { arguments += [captureID] }
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.storedExchange)
        }
    }

    /// One exchange by id, or nil.
    public func exchange(id: Int64) throws -> StoredExchange? {
        try exchanges(captureID: nil, afterID: id - 1, limit: 1).first.flatMap { $0.id == id ? $0 : nil }
    }

    private static func storedExchange(_ row: Row) -> StoredExchange {
        let request = RecordedRequest(
            method: row["method"], target: row["target"], version: row["request_version"],
            headers: [HeaderField](wireText: row["request_headers"]), body: bytes(row["request_body"]))
        var response: RecordedResponse?
        if let status: Int = row["prod_status"] {
            response = RecordedResponse(
                status: status, headers: [HeaderField](wireText: row["prod_headers"] ?? ""), body: bytes(row["prod_body"]))
        }
        return StoredExchange(
            id: row["id"], captureID: row["capture_id"],
            exchange: CapturedExchange(
                captureTimeNs: row["capture_time_ns"], connection: row["connection"], client: row["client"],
                server: row["server"], wireProtocol: WireProtocol(rawValue: row["protocol"]) ?? .http1,
                request: request, response: response, productionLatencyNs: row["prod_latency_ns"]))
    }

    static func bytes(_ data: Data?) -> [UInt8] {
        data.map { [UInt8]($0) } ?? []
    }
}
