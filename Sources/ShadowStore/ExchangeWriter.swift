import Foundation
import GRDB
import ShadowCore

/// Buffers captured exchanges and writes them in one transaction per batch, through
/// cached prepared statements.
///
/// Not thread-safe: one writer belongs to one capture loop. Call `flush()` before
/// finishing the capture; `committed` counts exchanges durably stored.
public final class ExchangeWriter {
    private let database: ShadowDatabase
    private let captureID: Int64
    private let batchSize: Int
    private var pending: [CapturedExchange] = []
    public private(set) var committed: Int64 = 0

    public init(database: ShadowDatabase, captureID: Int64, batchSize: Int = 1000) {
        self.database = database
        self.captureID = captureID
        self.batchSize = max(1, batchSize)
        pending.reserveCapacity(self.batchSize)
    }

    public func append(_ exchange: CapturedExchange) throws {
        pending.append(exchange)
        if pending.count >= batchSize { try flush() }
    }

    public func flush() throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        let captureID = captureID
        try database.pool.write { db in
            let meta = try db.cachedStatement(sql: """
                INSERT INTO exchanges (capture_id, capture_time_ns, connection, client, server, protocol,
                    method, target, request_bytes, prod_status, prod_latency_ns, prod_response_bytes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let bodies = try db.cachedStatement(sql: """
                INSERT INTO exchange_bodies (exchange_id, request_version, request_headers, request_body,
                    prod_headers, prod_body) VALUES (?, ?, ?, ?, ?, ?)
                """)
            for e in batch {
                try meta.execute(arguments: [
                    captureID, e.captureTimeNs, e.connection, e.client, e.server, e.wireProtocol.rawValue,
                    e.request.method, e.request.target, e.request.body.count, e.response?.status,
                    e.productionLatencyNs, e.response?.body.count,
                ])
                try bodies.execute(arguments: [
                    db.lastInsertedRowID, e.request.version, e.request.headers.wireText, Data(e.request.body),
                    e.response?.headers.wireText, e.response.map { Data($0.body) },
                ])
            }
        }
        committed += Int64(batch.count)
        pending.removeAll(keepingCapacity: true)
    }
}
