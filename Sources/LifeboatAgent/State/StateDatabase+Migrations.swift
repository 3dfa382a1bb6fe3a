import GRDB

extension StateDatabase {
    /// The schema, one versioned migration at a time. A migration, once released, is never changed:
    /// later schema changes are new migrations appended here.
    ///
    /// Times are stored as GRDB stores `Date`: UTC text `YYYY-MM-DD HH:MM:SS.SSS`, which sorts in time
    /// order and reads well in `sqlite3`. `trigger` and `result` are free text (no CHECK constraint), so
    /// that a new trigger or result does not need a table rebuild; Swift decides what they mean.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("1-runs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job TEXT NOT NULL,
                        "trigger" TEXT NOT NULL,        -- manual, schedule, catch-up, drill
                        started_at DATETIME NOT NULL,
                        ended_at DATETIME,              -- NULL while running, and for interrupted runs
                        result TEXT NOT NULL,           -- running, succeeded, partial, failed, skipped, interrupted
                        snapshot TEXT,                  -- the snapshot id the run made
                        archive TEXT,                   -- its object name on the stores
                        archive_bytes INTEGER,
                        error TEXT,
                        pid INTEGER NOT NULL,           -- the process that ran it: pid, start time
                        process_start INTEGER NOT NULL, -- (clock ticks after boot) and boot id, so
                        boot_id TEXT NOT NULL,          -- a reused pid is never taken for it
                        agent_version TEXT NOT NULL
                    );
                    CREATE INDEX runs_by_job ON runs(job, id);
                    CREATE INDEX runs_running ON runs(result) WHERE result = 'running';

                    CREATE TABLE run_stores (
                        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        store TEXT NOT NULL,
                        ok BOOLEAN NOT NULL,            -- committed and checked there
                        verification TEXT,
                        error TEXT,
                        bytes INTEGER,
                        retention_error TEXT,
                        pruned INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (run_id, store)
                    );
                    CREATE INDEX run_stores_success ON run_stores(store, ok, run_id);

                    -- The newest fully successful run of each job.
                    CREATE VIEW job_last_success AS
                        SELECT job, MAX(id) AS run_id FROM runs WHERE result = 'succeeded' GROUP BY job;

                    -- The newest run of each job that committed a snapshot on each store.
                    CREATE VIEW store_last_success AS
                        SELECT r.job AS job, s.store AS store, MAX(r.id) AS run_id
                        FROM run_stores s JOIN runs r ON r.id = s.run_id
                        WHERE s.ok
                        GROUP BY r.job, s.store;
                    """)
        }

        migrator.registerMigration("2-settings") { db in
            try db.execute(
                sql: """
                    CREATE TABLE settings (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL,
                        updated_at DATETIME NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }

        migrator.registerMigration("3-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order events were recorded in
                        id TEXT NOT NULL UNIQUE,                -- the event's own stable id
                        type TEXT NOT NULL,
                        level TEXT NOT NULL,                    -- information, warning, alert
                        time DATETIME NOT NULL,
                        source TEXT NOT NULL,
                        attributes TEXT NOT NULL,               -- a JSON object of strings
                        message TEXT,
                        recorded_at DATETIME NOT NULL
                    );
                    CREATE INDEX events_by_time ON events(time);
                    CREATE INDEX events_by_type ON events(type, seq);
                    """)
        }

        migrator.registerMigration("4-notifications") { db in
            try db.execute(
                sql: """
                    CREATE TABLE notifications (
                        id TEXT PRIMARY KEY NOT NULL,           -- idempotency key, Message-ID stem
                        contact TEXT NOT NULL,
                        group_key TEXT NOT NULL,                -- type (and job); '*' for a summary
                        state TEXT NOT NULL,                    -- pending, delivered, failed, merged
                        method_index INTEGER NOT NULL DEFAULT 0, -- into the contact's methods
                        method TEXT,                            -- the method of the last attempt
                        attempts INTEGER NOT NULL DEFAULT 0,    -- failed attempts with the current method
                        due_at DATETIME NOT NULL,
                        created_at DATETIME NOT NULL,           -- the first event's time
                        first_attempt_at DATETIME,              -- set before the first send: no event joins after
                        last_error TEXT,
                        delivered_at DATETIME,
                        merged_into TEXT
                    ) WITHOUT ROWID;
                    CREATE INDEX notifications_pending ON notifications(state, due_at);
                    CREATE INDEX notifications_by_contact ON notifications(contact, group_key, state);
                    CREATE TABLE notification_events (
                        notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
                        event_seq INTEGER NOT NULL,
                        group_key TEXT NOT NULL,
                        PRIMARY KEY (notification_id, event_seq)
                    ) WITHOUT ROWID;
                    CREATE INDEX notification_events_by_event ON notification_events(event_seq);
                    CREATE TABLE notification_groups (
                        contact TEXT NOT NULL,
                        group_key TEXT NOT NULL,
                        last_delivered_at DATETIME NOT NULL,
                        PRIMARY KEY (contact, group_key)
                    ) WITHOUT ROWID;
                    """)
        }

        migrator.registerMigration("5-run-hooks") { db in
            try db.execute(
                sql: """
                    -- The pre_backup and post_backup hooks a run ran, in order, with their (bounded) output.
                    CREATE TABLE run_hooks (
                        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        seq INTEGER NOT NULL,           -- the order within the run, from 1
                        phase TEXT NOT NULL,            -- pre_backup, post_backup
                        command TEXT NOT NULL,          -- the argument vector, a JSON array
                        ok BOOLEAN NOT NULL,
                        termination TEXT,               -- exit status 0, signal 15 (SIGTERM); NULL: not started
                        error TEXT,                     -- why it failed: cannot start, timed out, exit status
                        duration_ms INTEGER NOT NULL,
                        stdout TEXT NOT NULL,           -- the first 16 KiB
                        stderr TEXT NOT NULL,           -- the last 16 KiB
                        output_truncated BOOLEAN NOT NULL,
                        PRIMARY KEY (run_id, seq)
                    );
                    """)
        }

        return migrator
    }
}
