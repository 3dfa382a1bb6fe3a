#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import GRDB
import LifeboatStores

/// Copies a live SQLite database with the online-backup API and checks the copy.
///
/// The copy is taken in one backup step under a read transaction, so it is a consistent snapshot
/// while other processes keep writing (WAL or rollback journal). A writer holding the database
/// locked makes the step wait (busy timeout) and then retry, a bounded number of times.
/// The copy must pass `PRAGMA integrity_check` before it may enter an archive.
public enum SQLiteSnapshotter {
    /// Copies `source` to `destination` (which must not exist); returns the integrity-check result (`ok`).
    public static func snapshot(source: String, to destination: String, component: String, attempts: Int = 5)
        throws -> String
    {
        guard let st = LocalFiles.lstatOrNil(source) else {
            throw BackupError(.sourceMissing, "source '\(component)': \(source) does not exist")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw BackupError(.sourceUnreadable, "source '\(component)': \(source) is not a regular file")
        }
        try checkHeader(source, component: component)
        var lastError: (any Error)?
        for attempt in 1...attempts {
            LocalFiles.removeTree(destination)
            do {
                try copy(source: source, destination: destination)
                lastError = nil
                break
            } catch let error as DatabaseError
                where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
            {
                lastError = error
                usleep(UInt32(100_000 * attempt))
            } catch {
                LocalFiles.removeTree(destination)
                throw BackupError(
                    .sourceUnreadable, "source '\(component)': cannot copy SQLite database \(source): \(error)")
            }
        }
        if let lastError {
            LocalFiles.removeTree(destination)
            throw BackupError(
                .busy, "source '\(component)': \(source) stayed locked by another process after \(attempts) attempts: \(lastError)")
        }
        let result = try integrityCheck(path: destination)
        guard result == "ok" else {
            LocalFiles.removeTree(destination)
            throw BackupError(
                .integrity, "source '\(component)': the copy of \(source) fails PRAGMA integrity_check: \(result)")
        }
        return result
    }

    /// Runs `PRAGMA integrity_check` on a database file, read-only; returns `ok` or the problems found.
    public static func integrityCheck(path: String) throws -> String {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        let rows = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        return rows.joined(separator: "; ")
    }

    private static func copy(source: String, destination: String) throws {
        var sourceConfiguration = Configuration()
        sourceConfiguration.readonly = true
        sourceConfiguration.busyMode = .timeout(10)
        let from = try DatabaseQueue(path: source, configuration: sourceConfiguration)
        defer { try? from.close() }
        // The copy is a scratch file read once into the archive: no journal and no fsync.
        var destinationConfiguration = Configuration()
        destinationConfiguration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous=OFF; PRAGMA journal_mode=OFF")
        }
        let to = try DatabaseQueue(path: destination, configuration: destinationConfiguration)
        try from.backup(to: to)
        try to.close()
        // A WAL-mode copy leaves its -wal and -shm files empty on close; the main file is complete.
        for suffix in ["-wal", "-shm", "-journal"] { _ = unlink(destination + suffix) }
    }

    /// Refuses files that are not SQLite databases, with a message that says so.
    private static func checkHeader(_ path: String, component: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BackupError(.sourceUnreadable, "source '\(component)': cannot open \(path): \(errnoText())")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard header.isEmpty || header == Data("SQLite format 3\0".utf8) else {
            throw BackupError(.sourceUnreadable, "source '\(component)': \(path) is not a SQLite database")
        }
    }
}
