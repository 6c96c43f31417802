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
    /// The batches appended as `CapturedExchange`s, handed back by `flush`.
    private var pendingBatches: [[CapturedExchange]] = []
    private var pending: [EncodedExchange] = []
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

    /// Takes a whole batch (bodies shared, not copied); commits once `batchSize` are pending and
    /// then returns the batches written (see `flush`).
    @discardableResult
    public func append(contentsOf exchanges: [CapturedExchange]) throws -> [[CapturedExchange]] {
        guard !exchanges.isEmpty else { return [] }
        pendingBatches.append(exchanges)
        pending.append(contentsOf: exchanges.lazy.map(EncodedExchange.init))
        return pending.count >= batchSize ? try flush() : []
    }

    /// Commits everything pending in one transaction; returns the batches of `CapturedExchange`s
    /// written, so that the caller may choose the thread that frees them.
    @discardableResult
    public func flush() throws -> [[CapturedExchange]] {
        guard !pending.isEmpty else { return [] }
        let captureID = captureID
        var binder = scratch
        try database.write { db in try Self.insert(pending, captureID: captureID, db: db, binder: &binder) }
        scratch = binder
        committed += Int64(pending.count)
        pending.removeAll(keepingCapacity: true)
        let written = pendingBatches
        pendingBatches.removeAll(keepingCapacity: true)
        return written
    }

    /// Inserts `exchanges` of `captureID` inside the caller's transaction.
    static func insert(_ exchanges: [EncodedExchange], captureID: Int64, db: Database, binder: inout SQLiteBinder) throws {
        let meta = try db.cachedStatement(sql: """
            INSERT INTO exchanges (capture_id, capture_time_ns, connection, client, server, protocol,
                method, target, request_bytes, prod_status, prod_latency_ns, prod_response_bytes, prod_error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).sqliteStatement
        let bodies = try db.cachedStatement(sql: """
            INSERT INTO exchange_bodies (exchange_id, request_version, request_headers, request_body,
                prod_headers, prod_body) VALUES (?, ?, ?, ?, ?, ?)
            """).sqliteStatement
        for e in exchanges {
            binder.begin(meta)
            binder.bind(captureID)
            binder.bind(e.captureTimeNs)
            binder.bind(e.connection)
            binder.bind(e.client)
            binder.bind(e.server)
            binder.bind(e.wireProtocol.rawValue)
            binder.bind(e.method)
            binder.bind(e.target)
            binder.bind(Int64(e.requestBody.count))
            binder.bind(e.response.map { Int64($0.status) })
            binder.bind(e.productionLatencyNs)
            binder.bind(e.response.map { Int64($0.body.count) })
            binder.bind(e.productionError)
            try binder.step(db)

            binder.begin(bodies)
            binder.bind(db.lastInsertedRowID)
            binder.bind(e.version)
            binder.bindText(e.requestHeaderText)
            binder.bindBlob(e.requestBody)
            if let response = e.response {
                binder.bindText(response.headerText)
                binder.bindBlob(response.body)
            } else {
                binder.bind(nil as Int64?)
                binder.bind(nil as Int64?)
            }
            try binder.step(db)
        }
    }
}

/// Binds values to a raw SQLite statement by position, copying text and blobs (SQLITE_TRANSIENT).
struct SQLiteBinder {
    private var statement: OpaquePointer?
    private var index: Int32 = 0
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

    /// Text already UTF-8 encoded (an empty array is an empty string, not NULL).
    mutating func bindText(_ utf8: [UInt8]) {
        index += 1
        utf8.withUnsafeBytes { bindText($0) }
    }

    func step(_ db: Database) throws {
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage)
        }
    }
}
