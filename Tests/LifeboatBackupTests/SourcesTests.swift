import Foundation
import GRDB
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto
import LifeboatStores
import Logging
import Testing

@testable import LifeboatBackup

final class TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "lifeboat-backup-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Writes rows into a SQLite database from another process (the sqlite3 CLI would do; python3's
/// sqlite3 module is always there), so the copy really races a separate writer.
final class ExternalWriter {
    let process = Process()
    init(database: String, journalMode: String) throws {
        let script = """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=" + sys.argv[2])
            db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB)")
            i = 0
            while True:
                db.execute("BEGIN IMMEDIATE")
                for _ in range(50):
                    db.execute("INSERT INTO t (payload) VALUES (randomblob(200))")
                db.execute("COMMIT")
                i += 1
                if i == 1:
                    print("ready", flush=True)
                time.sleep(0.002)
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, database, journalMode]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Wait until the writer has committed once.
        _ = out.fileHandleForReading.availableData
    }
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite struct SQLiteSnapshotterTests {
    @Test(arguments: ["WAL", "DELETE"])
    func copiesALiveDatabaseConsistently(journalMode: String) throws {
        let dir = try TempDir()
        let db = dir.path + "/live.sqlite3"
        let writer = try ExternalWriter(database: db, journalMode: journalMode)
        defer { writer.stop() }
        var counts: [Int] = []
        for i in 0..<3 {
            let copy = dir.path + "/copy\(i).sqlite3"
            let result = try SQLiteSnapshotter.snapshot(source: db, to: copy, component: "cdr")
            #expect(result == "ok")
            let queue = try DatabaseQueue(path: copy)
            let count = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } ?? -1
            // Whole transactions only: the writer commits 50 rows at a time.
            #expect(count % 50 == 0, "a copy holds only committed transactions (\(count) rows)")
            counts.append(count)
            try queue.close()
            #expect(!FileManager.default.fileExists(atPath: copy + "-wal"))
            usleep(50_000)
        }
        #expect(counts.last! > counts.first!, "the writer kept writing during the copies: \(counts)")
    }

    @Test func refusesMissingAndForeignFiles() throws {
        let dir = try TempDir()
        #expect(throws: BackupError.self) {
            try SQLiteSnapshotter.snapshot(source: dir.path + "/nope.db", to: dir.path + "/c", component: "x")
        }
        try "hello".write(toFile: dir.path + "/text.db", atomically: true, encoding: .utf8)
        do {
            _ = try SQLiteSnapshotter.snapshot(source: dir.path + "/text.db", to: dir.path + "/c", component: "x")
            Issue.record("a text file was accepted as a database")
        } catch let error as BackupError {
            #expect(error.message.contains("is not a SQLite database"))
        }
    }

    @Test func integrityCheckFindsCorruption() throws {
        let dir = try TempDir()
        let db = dir.path + "/db.sqlite3"
        let queue = try DatabaseQueue(path: db)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            try db.execute(sql: "CREATE INDEX tv ON t(v)")
            for i in 0..<2000 { try db.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: ["value \(i)"]) }
        }
        try queue.close()
        #expect(try SQLiteSnapshotter.integrityCheck(path: db) == "ok")
        // Scribble over a page in the middle of the file.
        let handle = try #require(FileHandle(forUpdatingAtPath: db))
        try handle.seek(toOffset: 4096 * 3 + 100)
        handle.write(Data(repeating: 0xA5, count: 600))
        try handle.close()
        #expect(try SQLiteSnapshotter.integrityCheck(path: db) != "ok")
    }
}

@Suite struct FileTreeScannerTests {
    @Test func walksWithGlobsKeepingLinksAndEmptyFolders() throws {
        let dir = try TempDir()
        let root = dir.path + "/asterisk"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/keys", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/spool/tmp", withIntermediateDirectories: true)
        for name in ["sip.conf", "extensions.conf", "extensions.conf.bak", "spool/tmp/x.wav", "spool/keep.wav"] {
            try "x".write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
        }
        try fm.createSymbolicLink(atPath: root + "/link.conf", withDestinationPath: "sip.conf")
        let scanner = FileTreeScanner(component: "config", include: [], exclude: ["*.bak", "spool/tmp"])
        let entries = try scanner.scan(root: root)
        let paths = Set(entries.map { $0.archivePath.replacingOccurrences(of: "components/config" + root, with: "") })
        #expect(paths == ["", "/keys", "/sip.conf", "/extensions.conf", "/spool", "/spool/keep.wav", "/link.conf"])
        #expect(entries.first { $0.archivePath.hasSuffix("link.conf") }?.metadata.linkTarget == "sip.conf")
        #expect(entries.first { $0.archivePath.hasSuffix("link.conf") }?.type == .symlink)

        let only = FileTreeScanner(component: "c", include: ["*.conf"], exclude: [])
        let files = try only.scan(root: root).filter { $0.type != .directory }.map { $0.archivePath.split(separator: "/").last! }
        #expect(Set(files) == ["sip.conf", "extensions.conf", "link.conf"])
    }
}

/// A file that is rewritten while it is read is read again, and recorded as changed if it never settles.
@Suite struct ChangedFileTests {
    @Test func aFileRewrittenDuringTheReadIsRecorded() throws {
        let dir = try TempDir()
        let tree = dir.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let busy = tree + "/recording.wav"
        try Data(repeating: 1, count: 4 << 20).write(to: URL(fileURLWithPath: busy))
        try Data("calm".utf8).write(to: URL(fileURLWithPath: tree + "/calm.txt"))
        let store = dir.path + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)

        // A writer appends to the recording continuously while the backup runs.
        let stop = Flag()
        let writer = Thread {
            let handle = FileHandle(forWritingAtPath: busy)!
            while !stop.isSet {
                handle.seekToEndOfFile()
                handle.write(Data(repeating: 2, count: 4096))
                usleep(200)
            }
            try? handle.close()
        }
        writer.start()
        defer { stop.set() }

        let plan = BackupPlan(
            job: "j", host: "h", sources: [SourceSpec(name: "rec", kind: .files(paths: [tree], include: [], exclude: []))],
            recipients: nil, compression: ArchiveCompression(algorithm: .zstd, level: 1), pbx: .init(product: nil, firmwareVersion: nil),
            naming: ObjectNaming(prefix: ""), stagingDirectory: dir.path + "/staging", agentVersion: "test")
        let result = try BackupRunner(plan: plan, stores: [LocalStore(name: "l", root: store)], logger: Logger(label: "test")).run()
        stop.set()
        #expect(result.status == .succeeded)
        #expect(result.changedFiles.count == 1)
        #expect(result.changedFiles.first?.hasSuffix("recording.wav") == true)

        // The archive says so, and still restores (the last copy wins) with every hash checked.
        let source = try #require(try LocalStore(name: "l", root: store).makeReader(for: result.archiveName))
        let restored = try RestoreRunner.run(RestoreRequest(input: source, identities: [], target: dir.path + "/out"))
        #expect(restored.changedFiles == result.changedFiles)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/out/lifeboat/checksums.json"))
    }
}

final class Flag: @unchecked Sendable {
    // Safe: guarded by the lock.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
