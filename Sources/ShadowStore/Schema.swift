import GRDB

/// The store's schema, one migration per version. Version N sets `PRAGMA user_version = N`.
///
/// Metadata lives in narrow tables (`exchanges`, `results`) so that scans and GROUP BYs stay
/// fast; headers and bodies live in separate blob tables (`exchange_bodies`, `result_bodies`).
/// docs/SCHEMA.md documents every table and view.
enum Schema {
    static let version = 8

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        // v2: tee captures record why production's answer was the proxy's own (502/504).
        migrator.registerMigration("v2") { db in
            try db.execute(sql: "ALTER TABLE exchanges ADD COLUMN prod_error TEXT")
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        // v3: replay results per pass (--loop), with the schedule: service time, send lag, warm-up.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
            try db.execute(sql: "PRAGMA user_version = 3")
        }
        // v4: every diff or report of a run records its verdict, so `runs` can list them.
        migrator.registerMigration("v4") { db in
            try db.execute(sql: v4)
            try db.execute(sql: "PRAGMA user_version = 4")
        }
        // v5: resumable captures. A capture records the process writing it, so that one left running
        // by a killed process is marked interrupted; pcap imports record what `--resume` checks.
        migrator.registerMigration("v5") { db in
            try db.execute(sql: v5ResumableCaptures)
            try db.execute(sql: "PRAGMA user_version = 5")
        }
        // v6: a run records the process replaying it, like a capture, so that one left running by a
        // killed replay is listed interrupted and `replay --resume` never continues a live one.
        migrator.registerMigration("v6") { db in
            try db.execute(sql: v6RunOwners)
            try db.execute(sql: "PRAGMA user_version = 6")
        }
        // v7: the tee spools raw records in segments first and expands them into `exchanges` when
        // the CPU is otherwise idle, so that production does not pay for indexing them.
        migrator.registerMigration("v7") { db in
            try db.execute(sql: v7Spool)
            try db.execute(sql: "PRAGMA user_version = 7")
        }
        // v8: a result says whether its connection was set up on the request's clock.
        migrator.registerMigration("v8") { db in
            try db.execute(sql: "ALTER TABLE results ADD COLUMN reconnect INTEGER NOT NULL DEFAULT 0")
            try db.execute(sql: "PRAGMA user_version = 8")
        }
        return migrator
    }

    private static let v7Spool = """
        CREATE TABLE spooled_exchanges (
            id         INTEGER PRIMARY KEY,
            capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
            records    INTEGER NOT NULL,   -- exchanges in the segment
            segment    BLOB NOT NULL       -- the tee's raw records (docs/SCHEMA.md), not yet in `exchanges`
        );
        CREATE INDEX spooled_exchanges_by_capture ON spooled_exchanges(capture_id, id);
        DROP VIEW capture_summary;
        CREATE VIEW capture_summary AS
            SELECT c.id, c.source_kind, c.source, c.status,
                   (SELECT count(*) FROM exchanges e WHERE e.capture_id = c.id) AS exchanges,
                   (SELECT coalesce(sum(records), 0) FROM spooled_exchanges s WHERE s.capture_id = c.id) AS spooled,
                   (SELECT group_concat(name || '=' || value, ' ') FROM capture_counters k
                     WHERE k.capture_id = c.id) AS counters
            FROM captures c;
        """

    private static let v6RunOwners = """
        ALTER TABLE runs ADD COLUMN pid INTEGER;         -- the process replaying the run
        ALTER TABLE runs ADD COLUMN process_start TEXT;  -- as captures.process_start
        """

    private static let v5ResumableCaptures = """
        ALTER TABLE captures ADD COLUMN pid INTEGER;         -- the process writing the capture
        ALTER TABLE captures ADD COLUMN process_start TEXT;  -- its boot id, pid namespace and start time: a reused pid is not it
        ALTER TABLE captures ADD COLUMN resume_key TEXT;     -- pcap: JSON of the file's size and first-MiB digest and the import settings
        """

    private static let v4 = """
        CREATE TABLE verdicts (
            id             INTEGER PRIMARY KEY,
            run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            created_at     TEXT NOT NULL,         -- wall clock of the diff, ISO 8601
            passed         INTEGER NOT NULL,      -- 1: every gate passed
            pairs          INTEGER NOT NULL,
            mismatched     INTEGER NOT NULL,      -- pairs with a mismatch beyond noise
            failed_gates   TEXT NOT NULL,         -- names of the gates crossed, joined by ', '; '' when passed
            summary        TEXT NOT NULL          -- one line, as the terminal's verdict says it
        );
        CREATE INDEX verdicts_by_run ON verdicts(run_id, id);
        """

    private static let v3 = """
        DROP VIEW result_pairs;
        CREATE TABLE results_v3 (
            run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            pass           INTEGER NOT NULL,      -- 0, then 1, 2, ... with --loop
            exchange_id    INTEGER NOT NULL REFERENCES exchanges(id) ON DELETE CASCADE,
            side           TEXT NOT NULL,         -- 'baseline', 'candidate', 'secondary'
            status         INTEGER,               -- NULL when no response head arrived
            first_byte_ns  INTEGER,               -- intended send time to the first response byte
            latency_ns     INTEGER,               -- intended send time to the last byte (no coordinated omission)
            service_ns     INTEGER,               -- actual write to the last byte
            send_lag_ns    INTEGER,               -- actual write minus intended send time
            scheduled_ns   INTEGER,               -- intended send time, ns since the run (or resumption) started
            response_bytes INTEGER,
            error          TEXT,                  -- NULL, or the error kind
            warmup         INTEGER NOT NULL DEFAULT 0,  -- 1: sent during --warmup, out of statistics
            PRIMARY KEY (run_id, pass, exchange_id, side)
        ) WITHOUT ROWID;
        INSERT INTO results_v3 (run_id, pass, exchange_id, side, status, first_byte_ns, latency_ns, service_ns,
                                send_lag_ns, response_bytes, error)
            SELECT run_id, 0, exchange_id, side, status, first_byte_ns, latency_ns, latency_ns, 0, response_bytes, error
            FROM results;
        CREATE TABLE result_bodies_v3 (
            run_id        INTEGER NOT NULL,
            pass          INTEGER NOT NULL,
            exchange_id   INTEGER NOT NULL,
            side          TEXT NOT NULL,
            headers       TEXT,
            body          BLOB,
            error_message TEXT,
            PRIMARY KEY (run_id, pass, exchange_id, side),
            FOREIGN KEY (run_id, pass, exchange_id, side)
                REFERENCES results_v3(run_id, pass, exchange_id, side) ON DELETE CASCADE
        ) WITHOUT ROWID;
        INSERT INTO result_bodies_v3 SELECT run_id, 0, exchange_id, side, headers, body, error_message FROM result_bodies;
        DROP TABLE result_bodies;
        DROP TABLE results;
        ALTER TABLE results_v3 RENAME TO results;
        ALTER TABLE result_bodies_v3 RENAME TO result_bodies;
        CREATE VIEW result_pairs AS
            SELECT r.name AS run, b.pass, b.exchange_id,
                   e.method, e.target,
                   b.status AS baseline_status, c.status AS candidate_status,
                   b.latency_ns AS baseline_latency_ns, c.latency_ns AS candidate_latency_ns,
                   b.error AS baseline_error, c.error AS candidate_error
            FROM results b
            JOIN results c ON c.run_id = b.run_id AND c.pass = b.pass AND c.exchange_id = b.exchange_id
                          AND c.side = 'candidate'
            JOIN runs r ON r.id = b.run_id
            JOIN exchanges e ON e.id = b.exchange_id
            WHERE b.side = 'baseline' AND b.warmup = 0;
        """

    private static let v1 = """
        CREATE TABLE captures (
            id            INTEGER PRIMARY KEY,
            source_kind   TEXT NOT NULL,          -- 'pcap', 'interface', 'proxy', 'mirror'
            source        TEXT NOT NULL,          -- file path, interface or listen address
            filter        TEXT,                   -- BPF filter, when one was given
            link_type     TEXT,
            first_packet_ns INTEGER,              -- capture clock, ns since the Unix epoch
            last_packet_ns  INTEGER,
            started_at    TEXT NOT NULL,          -- wall clock of the import, ISO 8601
            finished_at   TEXT,
            status        TEXT NOT NULL,          -- 'running', 'complete', 'failed'
            error         TEXT
        );
        CREATE TABLE capture_counters (
            capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            value      INTEGER NOT NULL,
            PRIMARY KEY (capture_id, name)
        ) WITHOUT ROWID;
        CREATE TABLE exchanges (
            id                  INTEGER PRIMARY KEY,
            capture_id          INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
            capture_time_ns     INTEGER NOT NULL,
            connection          INTEGER NOT NULL,
            client              TEXT NOT NULL,
            server              TEXT NOT NULL,
            protocol            TEXT NOT NULL,
            method              TEXT NOT NULL,
            target              TEXT NOT NULL,
            request_bytes       INTEGER NOT NULL,
            prod_status         INTEGER,
            prod_latency_ns     INTEGER,
            prod_response_bytes INTEGER
        );
        CREATE INDEX exchanges_by_capture ON exchanges(capture_id, id);
        CREATE TABLE exchange_bodies (
            exchange_id     INTEGER PRIMARY KEY REFERENCES exchanges(id) ON DELETE CASCADE,
            request_version TEXT NOT NULL,
            request_headers TEXT NOT NULL,        -- 'Name: value' lines joined by CRLF
            request_body    BLOB NOT NULL,        -- de-chunked, as sent (still content-encoded)
            prod_headers    TEXT,
            prod_body       BLOB
        );
        CREATE TABLE runs (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            capture_id  INTEGER REFERENCES captures(id),   -- NULL: every capture
            config      TEXT NOT NULL,                     -- JSON: the full replay configuration
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            status      TEXT NOT NULL                      -- 'running', 'complete', 'failed'
        );
        CREATE TABLE run_counters (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name   TEXT NOT NULL,
            value  INTEGER NOT NULL,
            PRIMARY KEY (run_id, name)
        ) WITHOUT ROWID;
        CREATE TABLE results (
            run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            exchange_id    INTEGER NOT NULL REFERENCES exchanges(id) ON DELETE CASCADE,
            side           TEXT NOT NULL,         -- 'baseline', 'candidate', 'secondary'
            status         INTEGER,               -- NULL when no response head arrived
            first_byte_ns  INTEGER,
            latency_ns     INTEGER,               -- send to last byte, monotonic clock
            response_bytes INTEGER,
            error          TEXT,                  -- NULL, or the error kind
            PRIMARY KEY (run_id, exchange_id, side)
        ) WITHOUT ROWID;
        CREATE TABLE result_bodies (
            run_id        INTEGER NOT NULL,
            exchange_id   INTEGER NOT NULL,
            side          TEXT NOT NULL,
            headers       TEXT,
            body          BLOB,
            error_message TEXT,
            PRIMARY KEY (run_id, exchange_id, side),
            FOREIGN KEY (run_id, exchange_id, side) REFERENCES results(run_id, exchange_id, side) ON DELETE CASCADE
        ) WITHOUT ROWID;

        CREATE VIEW capture_summary AS
            SELECT c.id, c.source_kind, c.source, c.status,
                   (SELECT count(*) FROM exchanges e WHERE e.capture_id = c.id) AS exchanges,
                   (SELECT group_concat(name || '=' || value, ' ') FROM capture_counters k
                     WHERE k.capture_id = c.id) AS counters
            FROM captures c;
        CREATE VIEW result_pairs AS
            SELECT r.name AS run, b.exchange_id,
                   e.method, e.target,
                   b.status AS baseline_status, c.status AS candidate_status,
                   b.latency_ns AS baseline_latency_ns, c.latency_ns AS candidate_latency_ns,
                   b.error AS baseline_error, c.error AS candidate_error
            FROM results b
            JOIN results c ON c.run_id = b.run_id AND c.exchange_id = b.exchange_id AND c.side = 'candidate'
            JOIN runs r ON r.id = b.run_id
            JOIN exchanges e ON e.id = b.exchange_id
            WHERE b.side = 'baseline';
        """
}
