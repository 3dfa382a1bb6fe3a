import Foundation
import GRDB
import LifeboatCore
import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// The agent's memory: every run of every job with its per-store outcome, and a small key/value
/// table, in SQLite at `state_dir/state.sqlite3`.
///
/// - **Crash safety.** WAL mode with `synchronous = FULL`: a run record is durable once the call that
///   wrote it returns. `kill -9` alone could not lose a WAL commit even with `NORMAL` (the WAL is in the
///   kernel's page cache by then); `FULL` also keeps it through a power cut or kernel crash. It costs one
///   fsync per commit, and a run makes two commits.
/// - **A run is recorded when it starts** (`running`, with the pid, start time and boot id of the
///   process) and updated when it ends. A `running` row whose process no longer exists is marked
///   `interrupted` when the database is opened (`interruptedAtOpen`).
/// - **Privacy.** The folder is created with mode 700 and the file with mode 600 (SQLite gives its
///   `-wal` and `-shm` files the database file's mode).
/// - **Several processes** (the daemon, `lifeboat backup` from cron, `lifeboat status`) may use it at
///   once: readers never wait for the writer in WAL mode, and writers wait up to 10 s for each other.
public final class StateDatabase: Sendable {
    /// The file name inside `state_dir`.
    public static let fileName = "state.sqlite3"

    /// The database's path for a state folder.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    /// The database file.
    public let path: String
    /// Runs found `running` at open whose process was gone, now marked `interrupted`.
    public let interruptedAtOpen: [RunRecord]
    /// Signalled after this object recorded events, so the relay in the same process wakes at once.
    public let eventsRecorded = ChangeSignal()
    let pool: DatabasePool

    /// Opens the database in `stateDirectory`, creating the folder and the file when missing, and
    /// migrating an older schema.
    public convenience init(stateDirectory: String, now: Date = Date()) throws {
        try self.init(path: Self.path(stateDirectory: stateDirectory), now: now)
    }

    /// Opens the database at `path` (its folder is created with mode 700 when missing).
    public init(path: String, now: Date = Date()) throws {
        self.path = path
        pool = try Self.open(path)
        interruptedAtOpen = try Self.markInterruptedRuns(pool, path: path, now: now)
    }

    /// Opens the database of `stateDirectory` only if it exists: commands that report state create nothing.
    public static func openExisting(stateDirectory: String, now: Date = Date()) throws -> StateDatabase? {
        let path = path(stateDirectory: stateDirectory)
        guard LocalFiles.lstatOrNil(path) != nil else { return nil }
        return try StateDatabase(path: path, now: now)
    }

    /// Closes the connections (they are closed on release too).
    public func close() throws {
        try guarded("close") { try pool.close() }
    }

    private static func open(_ path: String) throws -> DatabasePool {
        let folder = LocalFiles.parent(of: path)
        do {
            try LocalFiles.makeDirectories(folder, mode: 0o700)
        } catch {
            throw StateError(.unavailable, "cannot create the state folder \(folder): \(error)", underlying: error)
        }
        // Create the file ourselves so that it is private from the first byte; SQLite would use 0644.
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StateError(.unavailable, "cannot open the state database \(path): \(errnoText())")
        }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 0o077) != 0 { fchmod(fd, 0o600) }
        Glibc.close(fd)

        var configuration = GRDB.Configuration()
        configuration.label = "lifeboat-state"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)  // WAL mode
        } catch {
            throw StateError(.unavailable, "cannot open the state database \(path): \(error)", underlying: error)
        }
        let migrator = Self.migrator
        do {
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StateError(
                    .newerVersion,
                    "the state database \(path) was written by a later version of Lifeboat (\(Agent.version) does not know its schema); run the later version, or move the file away to start a new history"
                )
            }
            try migrator.migrate(pool)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.unavailable, "cannot migrate the state database \(path): \(error)", underlying: error)
        }
        return pool
    }

    // MARK: - Recording runs

    /// Records that a run of `job` starts now, as `running`, owned by `process`.
    public func beginRun(
        job: String, trigger: RunTrigger, at date: Date = Date(), process: ProcessIdentity = .current
    ) throws -> RunID {
        try guarded("record the start of a run of '\(job)'") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO runs (job, "trigger", started_at, result, pid, process_start, boot_id, agent_version)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        job, trigger.rawValue, date, RunResult.running.rawValue, Int64(process.pid),
                        Int64(clamping: process.startTime), process.bootID, Agent.version,
                    ])
                return RunID(rawValue: db.lastInsertedRowID)
            }
        }
    }

    /// Records how a run ended, with its per-store outcomes.
    public func finishRun(_ id: RunID, _ outcome: RunOutcome, at date: Date = Date()) throws {
        guard outcome.result != .running else {
            throw StateError(.unavailable, "run \(id) cannot be finished as 'running'")
        }
        try guarded("record the end of run \(id)") {
            try pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE runs SET ended_at = ?, result = ?, snapshot = ?, archive = ?, archive_bytes = ?, error = ?
                        WHERE id = ?
                        """,
                    arguments: [
                        date, outcome.result.rawValue, outcome.snapshot, outcome.archive, outcome.archiveBytes,
                        outcome.error, id.rawValue,
                    ])
                guard db.changesCount == 1 else {
                    throw StateError(.notFound, "run \(id) is not in the state database \(path)")
                }
                try db.execute(sql: "DELETE FROM run_stores WHERE run_id = ?", arguments: [id.rawValue])
                for store in outcome.stores {
                    try db.execute(
                        sql: """
                            INSERT INTO run_stores (run_id, store, ok, verification, error, bytes, retention_error, pruned)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            id.rawValue, store.store, store.ok, store.verification, store.error, store.bytes,
                            store.retentionError, store.pruned,
                        ])
                }
            }
        }
    }

    /// Records a run that did not happen because the job was still running (a fire time that came
    /// while the previous run went on, or a second `lifeboat backup` of the same job).
    @discardableResult
    public func recordSkippedRun(
        job: String, trigger: RunTrigger, at date: Date = Date(), reason: String, process: ProcessIdentity = .current
    ) throws -> RunID {
        let id = try beginRun(job: job, trigger: trigger, at: date, process: process)
        try finishRun(id, RunOutcome(result: .skipped, error: reason), at: date)
        return id
    }

    /// Marks `running` runs whose process is gone as `interrupted`; returns them. Done at every open;
    /// a long-lived process may call it again.
    @discardableResult
    public func markInterruptedRuns(now: Date = Date()) throws -> [RunRecord] {
        let marked = try Self.markInterruptedRuns(pool, path: path, now: now)
        if !marked.isEmpty { eventsRecorded.signal() }
        return marked
    }

    private static func markInterruptedRuns(_ pool: DatabasePool, path: String, now: Date) throws -> [RunRecord] {
        do {
            // Look first without taking the write lock: usually nothing is running.
            let running = try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT id FROM runs WHERE result = 'running'")
            }
            guard !running.isEmpty else { return [] }
            return try pool.write { db in
                var marked: [RunRecord] = []
                for run in try fetchRuns(db, where: "result = 'running'", arguments: [], limit: nil)
                where !run.process.isRunning {
                    let message =
                        "interrupted: the process (pid \(run.process.pid)) ended without recording a result (killed, crashed, or the machine went down); noticed at \(Timestamp.iso8601(now))"
                    try db.execute(
                        sql: "UPDATE runs SET result = ?, error = ? WHERE id = ? AND result = 'running'",
                        arguments: [RunResult.interrupted.rawValue, message, run.id.rawValue])
                    var updated = run
                    updated.result = .interrupted
                    updated.error = message
                    marked.append(updated)
                    // In the same transaction: a run is never marked without its event.
                    _ = try insertEvent(
                        db,
                        Event(
                            type: AgentEvent.backupFailed, level: .alert, time: now, source: "agent",
                            attributes: [
                                "job": run.job, "run": "\(run.id)", "trigger": run.trigger.rawValue,
                                "result": RunResult.interrupted.rawValue,
                                "started": Timestamp.iso8601(run.startedAt),
                            ],
                            message: "\(run.job): run \(run.id) was \(message)"),
                        at: now)
                }
                return marked
            }
        } catch {
            throw StateError(.unavailable, "cannot check for interrupted runs in \(path): \(error)", underlying: error)
        }
    }

    // MARK: - Reading runs

    /// One run, or nil.
    public func run(_ id: RunID) throws -> RunRecord? {
        try read { db in try Self.fetchRuns(db, where: "id = ?", arguments: [id.rawValue], limit: 1).first }
    }

    /// The newest runs (of `job`, or of every job), newest first: running, finished, skipped alike.
    public func lastRuns(job: String? = nil, limit: Int) throws -> [RunRecord] {
        try read { db in
            if let job {
                return try Self.fetchRuns(db, where: "job = ?", arguments: [job], limit: limit)
            }
            return try Self.fetchRuns(db, where: "1", arguments: [], limit: limit)
        }
    }

    /// The newest run of `job` that ran to an end or was interrupted (not running, not skipped).
    public func lastFinishedRun(job: String) throws -> RunRecord? {
        try read { db in
            try Self.fetchRuns(
                db, where: "job = ? AND result NOT IN ('running', 'skipped')", arguments: [job], limit: 1
            ).first
        }
    }

    /// Runs going on now (of `job`, or of every job), newest first.
    public func runningRuns(job: String? = nil) throws -> [RunRecord] {
        try read { db in
            let all = try Self.fetchRuns(db, where: "result = 'running'", arguments: [], limit: nil)
            return all.filter { job == nil || $0.job == job }
        }
    }

    /// The newest run of `job` that succeeded on every store.
    public func lastSuccess(job: String) throws -> RunRecord? {
        try read { db in
            try Self.fetchRuns(
                db, where: "id = (SELECT run_id FROM job_last_success WHERE job = ?)", arguments: [job], limit: 1
            ).first
        }
    }

    /// The newest snapshot of `job` committed on `store`.
    public func lastSuccess(job: String, store: String) throws -> StoreSuccess? {
        try lastSuccessPerStore(job: job)[store]
    }

    /// The newest snapshot of `job` committed on each store it was ever sent to, by store name.
    public func lastSuccessPerStore(job: String) throws -> [String: StoreSuccess] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT l.store, r.id, r.snapshot, r.started_at, r.ended_at, s.verification
                    FROM store_last_success l
                    JOIN runs r ON r.id = l.run_id
                    JOIN run_stores s ON s.run_id = l.run_id AND s.store = l.store
                    WHERE l.job = ?
                    """,
                arguments: [job])
            var result: [String: StoreSuccess] = [:]
            for row in rows {
                let store: String = row[0]
                let started: Date = row[3]
                result[store] = StoreSuccess(
                    store: store, run: RunID(rawValue: row[1]), snapshot: row[2], startedAt: started,
                    endedAt: (row[4] as Date?) ?? started, verification: row[5])
            }
            return result
        }
    }

    /// How many runs of each job ended with each result (for metrics: failures, partial runs).
    public func runCounts() throws -> [String: [RunResult: Int]] {
        try read { db in
            var counts: [String: [RunResult: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT job, result, count(*) FROM runs GROUP BY job, result") {
                counts[row[0], default: [:]][RunResult(rawValue: row[1])] = row[2]
            }
            return counts
        }
    }

    /// How many runs of each job did not reach each store, keyed by (job, store).
    public func storeFailureCounts() throws -> [StoreFailureKey: Int] {
        try read { db in
            var counts: [StoreFailureKey: Int] = [:]
            let sql = """
                SELECT r.job, s.store, count(*) FROM run_stores s JOIN runs r ON r.id = s.run_id
                WHERE NOT s.ok GROUP BY r.job, s.store
                """
            for row in try Row.fetchAll(db, sql: sql) {
                counts[StoreFailureKey(job: row[0], store: row[1])] = row[2]
            }
            return counts
        }
    }

    // MARK: - Rows

    private static let runColumns =
        "id, job, \"trigger\", started_at, ended_at, result, snapshot, archive, archive_bytes, error, pid, process_start, boot_id, agent_version"

    /// Runs matching `condition`, newest first, with their store outcomes.
    static func fetchRuns(_ db: Database, where condition: String, arguments: StatementArguments, limit: Int?) throws
        -> [RunRecord]
    {
        var sql = "SELECT \(runColumns) FROM runs WHERE \(condition) ORDER BY id DESC"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        var runs = try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            RunRecord(
                id: RunID(rawValue: row[0]), job: row[1], trigger: RunTrigger(rawValue: row[2]), startedAt: row[3],
                endedAt: row[4], result: RunResult(rawValue: row[5]), snapshot: row[6], archive: row[7],
                archiveBytes: row[8], error: row[9],
                process: ProcessIdentity(
                    pid: Int32(truncatingIfNeeded: row[10] as Int64), startTime: UInt64(max(0, row[11] as Int64)),
                    bootID: row[12]),
                agentVersion: row[13], stores: [])
        }
        guard !runs.isEmpty else { return runs }
        let ids = runs.map(\.id.rawValue)
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        let storeRows = try Row.fetchAll(
            db,
            sql: """
                SELECT run_id, store, ok, verification, error, bytes, retention_error, pruned
                FROM run_stores WHERE run_id IN (\(placeholders)) ORDER BY rowid
                """,
            arguments: StatementArguments(ids))
        var byRun: [Int64: [StoreRunRecord]] = [:]
        for row in storeRows {
            byRun[row[0], default: []].append(
                StoreRunRecord(
                    store: row[1], ok: row[2], verification: row[3], error: row[4], bytes: row[5],
                    retentionError: row[6], pruned: row[7]))
        }
        for i in runs.indices { runs[i].stores = byRun[runs[i].id.rawValue] ?? [] }
        return runs
    }

    // MARK: - Errors

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try guarded("read") { try pool.read(body) }
    }

    func write<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        try guarded(what) { try pool.write(body) }
    }

    /// Turns SQLite errors into `StateError`s that name the file.
    func guarded<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(.unavailable, "state database \(path): cannot \(what): \(error)", underlying: error)
        }
    }
}
