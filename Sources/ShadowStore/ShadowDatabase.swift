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
        if exists { try Self.checkExisting(path: path) }
        do {
            var config = Configuration()
            config.busyMode = .timeout(10)
            // WAL with synchronous=NORMAL: a crash of shadowdiff never loses a committed batch;
            // only a power loss may lose the last ones (never corrupts).
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            pool = try DatabasePool(path: path, configuration: config)
            try Schema.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw ShadowError.notADatabase(path: path, detail: error.message ?? "\(error.resultCode)")
        }
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
