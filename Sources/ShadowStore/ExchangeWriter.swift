import Foundation
import GRDB
import GRDBSQLite
import ShadowCore

/// Buffers captured exchanges and writes them in one transaction per batch, through
/// cached prepared statements bound directly (no per-value boxing).
///
/// Not thread-safe: one writer belongs to one capture loop (see `ExchangeWriterThread` to write
/// on a thread of its own). Call `flush()` before finishing the capture; `committed` counts
/// exchanges durably stored.
public final class ExchangeWriter {
    private let database: ShadowDatabase
    private let captureID: Int64
    private let batchSize: Int
    private var pending: [[CapturedExchange]] = []
    private var pendingCount = 0
    private var scratch = SQLiteBinder()
    public private(set) var committed: Int64 = 0

    public init(database: ShadowDatabase, captureID: Int64, batchSize: Int = 1000) {
        self.database = database
        self.captureID = captureID
        self.batchSize = max(1, batchSize)
    }

    public func append(_ exchange: CapturedExchange) throws {
        try append(contentsOf: [exchange])
    }

    /// Takes a whole batch as it is (no per-exchange copy); commits once `batchSize` are pending
    /// and then returns the batches written (see `flush`).
    @discardableResult
    public func append(contentsOf exchanges: [CapturedExchange]) throws -> [[CapturedExchange]] {
        guard !exchanges.isEmpty else { return [] }
        pending.append(exchanges)
        pendingCount += exchanges.count
        return pendingCount >= batchSize ? try flush() : []
    }

    /// Commits everything pending in one transaction; returns the batches written, so that the
    /// caller may choose the thread that frees them.
    @discardableResult
    public func flush() throws -> [[CapturedExchange]] {
        guard !pending.isEmpty else { return [] }
        let captureID = captureID
        var binder = scratch
        try database.write { db in
            let meta = try db.cachedStatement(sql: """
                INSERT INTO exchanges (capture_id, capture_time_ns, connection, client, server, protocol,
                    method, target, request_bytes, prod_status, prod_latency_ns, prod_response_bytes, prod_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).sqliteStatement
            let bodies = try db.cachedStatement(sql: """
                INSERT INTO exchange_bodies (exchange_id, request_version, request_headers, request_body,
                    prod_headers, prod_body) VALUES (?, ?, ?, ?, ?, ?)
                """).sqliteStatement
            for e in pending.joined() {
                binder.begin(meta)
                binder.bind(captureID)
                binder.bind(e.captureTimeNs)
                binder.bind(e.connection)
                binder.bind(e.client)
                binder.bind(e.server)
                binder.bind(e.wireProtocol.rawValue)
                binder.bind(e.request.method)
                binder.bind(e.request.target)
                binder.bind(Int64(e.request.body.count))
                binder.bind(e.response.map { Int64($0.status) })
                binder.bind(e.productionLatencyNs)
                binder.bind(e.response.map { Int64($0.body.count) })
                binder.bind(e.productionError)
                try binder.step(db)

                binder.begin(bodies)
                binder.bind(db.lastInsertedRowID)
                binder.bind(e.request.version)
                binder.bindHeaders(e.request.headers)
                binder.bindBlob(e.request.body)
                if let response = e.response {
                    binder.bindHeaders(response.headers)
                    binder.bindBlob(response.body)
                } else {
                    binder.bind(nil as Int64?)
                    binder.bind(nil as Int64?)
                }
                try binder.step(db)
            }
        }
        scratch = binder
        committed += Int64(pendingCount)
        let written = pending
        pending.removeAll(keepingCapacity: true)
        pendingCount = 0
        return written
    }
}

/// Binds values to a raw SQLite statement by position, copying text and blobs (SQLITE_TRANSIENT).
struct SQLiteBinder {
    private var statement: OpaquePointer?
    private var index: Int32 = 0
    private var headerBytes: [UInt8] = []
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    mutating func begin(_ statement: OpaquePointer) {
        sqlite3_reset(statement)
        self.statement = statement
        index = 0
    }

    mutating func bind(_ value: Int64?) {
        index += 1
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    mutating func bind(_ value: String?) {
        guard var value else { return bind(nil as Int64?) }
        index += 1
        value.withUTF8 { bindText(UnsafeRawBufferPointer($0)) }
    }

    private func bindText(_ raw: UnsafeRawBufferPointer) {
        if let base = raw.baseAddress, raw.count > 0 {
            sqlite3_bind_text(statement, index, base.assumingMemoryBound(to: CChar.self), Int32(raw.count), Self.transient)
        } else {
            sqlite3_bind_text(statement, index, "", 0, nil)
        }
    }

    mutating func bindBlob(_ bytes: [UInt8]) {
        index += 1
        _ = bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress, raw.count > 0 {
                sqlite3_bind_blob(statement, index, base, Int32(raw.count), Self.transient)
            } else {
                sqlite3_bind_zeroblob(statement, index, 0)  // an empty body is a zero-length blob, not NULL
            }
        }
    }

    /// Headers in the store's text form, `Name: value` lines joined by CRLF (`[HeaderField].wireText`).
    mutating func bindHeaders(_ headers: [HeaderField]) {
        index += 1
        headerBytes.removeAll(keepingCapacity: true)
        for (i, field) in headers.enumerated() {
            if i > 0 { headerBytes.append(contentsOf: [13, 10]) }
            headerBytes.append(contentsOf: field.name.utf8)
            headerBytes.append(contentsOf: [58, 32])
            headerBytes.append(contentsOf: field.value.utf8)
        }
        headerBytes.withUnsafeBytes { bindText($0) }
    }

    func step(_ db: Database) throws {
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage)
        }
    }
}
