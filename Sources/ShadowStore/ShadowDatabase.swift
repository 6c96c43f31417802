import Foundation
import GRDB
import ShadowCore

/// A shadowdiff database file: opened in WAL mode, migrated to the current schema.
///
/// Opening never modifies a file that is not a shadowdiff database: a foreign SQLite file,
/// a non-SQLite file or a database written by a newer shadowdiff is refused with a
/// `ShadowError` before anything is written.
public final class ShadowDatabase: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Whether a missing file may be created.
    public enum OpenMode: Sendable { case createIfMissing, mustExist }

    public init(path: String, mode: OpenMode) throws {
        self.path = path
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && mode == .mustExist { throw ShadowError.fileNotFound(path: path) }
        if exists { try Self.checkExisting(path: path) } else { try Self.createPrivateFile(path: path) }
        do {
            var config = Configuration()
            config.busyMode = .timeout(10)
            // WAL with synchronous=NORMAL: a crash of shadowdiff never loses a committed batch;
            // only a power loss may lose the last ones (never corrupts).
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            pool = try DatabasePool(path: path, configuration: config)
            try Schema.migrator.migrate(pool)
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_BUSY, .SQLITE_CANTOPEN:
                throw ShadowError.storeWrite(path: path, detail: Self.describe(error))
            default:
                throw ShadowError.notADatabase(path: path, detail: error.message ?? "\(error.resultCode)")
            }
        }
    }

    /// Runs `updates` in one transaction. A failed write (disk full, I/O error, a lock held too
    /// long) throws `ShadowError.storeWrite` naming the file; what earlier transactions committed stays.
    func write<T>(_ updates: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(updates)
        } catch let error as DatabaseError {
            throw ShadowError.storeWrite(path: path, detail: Self.describe(error))
        }
    }

    private static func describe(_ error: DatabaseError) -> String {
        switch error.resultCode {
        case .SQLITE_FULL: "the disk is full"
        case .SQLITE_IOERR: "an I/O error (\(error.message ?? "SQLite I/O error"))"
        case .SQLITE_BUSY, .SQLITE_LOCKED: "another process holds the database locked"
        case .SQLITE_READONLY: "the database is read-only"
        case .SQLITE_CANTOPEN: "cannot open the file (\(error.message ?? "unable to open"))"
        default: error.message ?? "SQLite error \(error.resultCode.rawValue)"
        }
    }

    /// Creates the empty database file readable and writable by its owner only (0600); SQLite gives
    /// its -wal and -shm files the same mode. Captured traffic may hold credentials and personal data.
    private static func createPrivateFile(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, PrivateFile.mode)
        if fd < 0 {
            if errno == EEXIST { return }
            throw ShadowError.io(path: path, detail: "cannot create the database: \(String(cString: strerror(errno)))")
        }
        close(fd)
    }

    /// Inspects an existing file read-only and throws unless it is empty or a shadowdiff database.
    private static func checkExisting(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ShadowError.io(path: path, detail: "cannot open for reading")
        }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        try? handle.close()
        if header.isEmpty { return }
        guard header.elementsEqual(Array("SQLite format 3\0".utf8)) else {
            throw ShadowError.notADatabase(path: path, detail: "not an SQLite file")
        }
        do {
            var config = Configuration()
            config.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.read { db in
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                if tables.isEmpty { return }
                guard tables.contains("grdb_migrations"), tables.contains("exchanges") else {
                    throw ShadowError.notADatabase(path: path, detail: "an SQLite file without the shadowdiff schema")
                }
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let superseded = try Schema.migrator.hasBeenSuperseded(db)
                if version > Schema.version || superseded {
                    throw ShadowError.newerSchema(path: path, found: version, supported: Schema.version)
                }
            }
        } catch let error as DatabaseError {
            throw ShadowError.notADatabase(path: path, detail: error.message ?? "\(error.resultCode)")
        }
    }

    /// The schema version this build writes.
    public static var schemaVersion: Int { Schema.version }

    static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}
