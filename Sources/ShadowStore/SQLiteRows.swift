import GRDB
import GRDBSQLite

/// A query stepped through SQLite's C API, its columns read in place: for scans where GRDB's
/// `Row` (a `Data` per blob, a boxed value per column) costs more than the work on the rows.
///
/// Contract: used only inside the `Database` access it was made in; `next()` before any column;
/// a column read is valid until the next `next()`.
struct SQLiteRows {
    private let db: Database
    private let statement: Statement

    init(_ db: Database, sql: String, arguments: StatementArguments) throws {
        self.db = db
        statement = try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
    }

    private var raw: OpaquePointer { statement.sqliteStatement }

    /// Steps to the next row; false at the end.
    func next() throws -> Bool {
        switch sqlite3_step(raw) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage, sql: statement.sql)
        }
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func int64OrNil(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    func intOrNil(_ column: Int32) -> Int? { isNull(column) ? nil : Int(int64(column)) }

    /// The column's text as UTF-8 bytes (empty for NULL), valid until the next step.
    func utf8(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let text = sqlite3_column_text(raw, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(raw, column)))
    }

    /// The column as text, invalid UTF-8 repaired; nil for NULL.
    func text(_ column: Int32) -> String? {
        isNull(column) ? nil : String(decoding: utf8(column), as: UTF8.self)
    }

    /// The column's blob, copied once; empty for NULL.
    func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let blob = sqlite3_column_blob(raw, column) else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.initialize(from: blob.assumingMemoryBound(to: UInt8.self), count: count)
            initialized = count
        }
    }
}

/// Rows read in key order beside another cursor, for a merge join: `seek` moves to the first row
/// whose key is not behind the one wanted, so each row is read once.
struct MergeCursor {
    let rows: SQLiteRows
    private var rowsLeft = true
    private var onRow = false

    init(_ rows: SQLiteRows) {
        self.rows = rows
    }

    /// Moves to the first row at or after the wanted key; true when it is that key's row.
    /// `order` compares the current row's key with the wanted one (negative: behind it).
    mutating func seek(_ order: (SQLiteRows) -> Int) throws -> Bool {
        while rowsLeft {
            guard onRow else {
                rowsLeft = try rows.next()
                onRow = true
                continue
            }
            let position = order(rows)
            if position >= 0 { return position == 0 }
            onRow = false
        }
        return false
    }
}

/// SQLite's BINARY collation (memcmp, then length): how `ORDER BY` sorts the text of a key.
func binaryOrder(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
    for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}
