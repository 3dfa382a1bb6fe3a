#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import GRDB
import LifeboatCore
import LifeboatCrypto
import LifeboatStores
import Logging

/// `lifeboat demo [--dir DIR]`: seeds a demo PBX, then backup → verify --deep → restore → compare,
/// with a writer inserting call records into the CDR database during the backup. Needs no server
/// and no root.
public enum DemoCommand {
    public static func run(directory: String?, logger: Logger) throws -> ExitStatus {
        let dir = try makeFolder(directory)
        let pbx = DemoPBX(root: dir + "/pbx")
        Console.out("Lifeboat demo in \(dir)")
        Console.out("1. Seeding a demo PBX: Asterisk configuration, astdb, CDR database (WAL) and voicemail")
        try pbx.seed()

        let identity = try AgeX25519Identity.generate()
        let keyPath = dir + "/keys/lifeboat.key"
        try LocalFiles.makeDirectories(dir + "/keys", mode: 0o700)
        let keySink = try FileSink(path: keyPath, mode: 0o600, exclusive: true)
        try keySink.write(AgeKeyFile.render(identity, created: Date()))
        keySink.close()
        try LocalFiles.makeDirectories(dir + "/store", mode: 0o700)
        let configPath = dir + "/lifeboat.yaml"
        try Data(config(dir: dir, pbx: pbx, recipient: identity.recipient.encoded, keyPath: keyPath).utf8)
            .write(to: URL(fileURLWithPath: configPath))
        chmod(configPath, 0o600)
        Console.out("2. Generated an age key (\(keyPath)) and a configuration (\(configPath))")

        let agent = Agent(configuration: try Configuration.load(path: configPath), logger: logger)
        let writer = try CDRWriter(path: pbx.cdr)
        let rowsBefore = writer.rows
        writer.start()
        Console.out("3. Backup while a writer keeps inserting call records into the CDR database:")
        let backupStatus = try BackupCommand.run(agent: agent, job: "nightly", store: nil, json: false)
        let inserted = writer.stop()
        guard backupStatus == .success else { return backupStatus }
        Console.out("   (the writer inserted \(inserted) call records during the backup)")

        Console.out("4. Deep verification (decrypt, every file hash, SQLite integrity):")
        let verifyStatus = try VerifyCommand.run(
            agent: agent, snapshots: [], latest: true, deep: true, store: nil, host: nil, job: nil, identityFile: nil,
            json: false)
        guard verifyStatus == .success else { return verifyStatus }

        let target = dir + "/restore"
        Console.out("5. Restore into \(target):")
        let restoreStatus = try RestoreCommand.run(
            agent: agent,
            options: .init(
                reference: nil, latest: true, store: nil, host: nil, job: nil, target: target, components: [],
                dryRun: false, identityFile: nil, json: false))
        guard restoreStatus == .success else { return restoreStatus }

        Console.out("6. Comparing the restore with the PBX:")
        let problems = try compare(pbx: pbx, restored: target, cdrRowsBefore: rowsBefore, cdrRowsAfter: writer.rows)
        for p in problems.lines { Console.out("   " + p) }
        guard problems.failures == 0 else {
            Console.out("DEMO FAILED: the restore differs from the source")
            return .failure
        }
        let store = dir + "/store"
        let archive = (try LocalStore(name: "demo", root: store).list(prefix: "")).first { $0.name.hasSuffix(".age") }
        Console.out("")
        Console.out("Everything matched. To open the archive without Lifeboat, with stock tools:")
        Console.out("  mkdir /tmp/by-hand && age -d -i \(keyPath) \(store)/\(archive?.name ?? "HOST/JOB/ARCHIVE.tar.zst.age") | tar --zstd -xf - -C /tmp/by-hand")
        Console.out("  cd /tmp/by-hand && sha256sum -c lifeboat/SHA256SUMS")
        Console.out("Try also: lifeboat snapshots --config \(configPath)")
        return .success
    }

    private static func makeFolder(_ directory: String?) throws -> String {
        if let directory {
            let path = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
            if FileManager.default.fileExists(atPath: path) {
                guard (try FileManager.default.contentsOfDirectory(atPath: path)).isEmpty else {
                    throw CommandError(.usage, "\(path) is not empty; give a new or empty folder")
                }
            } else {
                try LocalFiles.makeDirectories(path, mode: 0o700)
            }
            return path
        }
        var template = Array((NSTemporaryDirectory() + "lifeboat-demo-" + String(repeating: "X", count: 6)).utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CommandError(.failure, "cannot create a demo folder: \(errnoText())")
        }
        return String(cString: made)
    }

    private static func config(dir: String, pbx: DemoPBX, recipient: String, keyPath: String) -> String {
        """
        # Lifeboat demo configuration (generated by `lifeboat demo`)
        host: demo-pbx
        state_dir: \(dir)/state
        pbx: {product: asterisk, firmware_version_file: \(pbx.versionFile)}
        encryption:
          recipients: ["\(recipient)"]
          identity_file: \(keyPath)
          compression: {algorithm: zstd, level: 3}
        sources:
          - {name: astdb,     kind: sqlite, path: \(pbx.astdb)}
          - {name: cdr,       kind: sqlite, path: \(pbx.cdr)}
          - {name: config,    kind: files,  path: \(pbx.asteriskConfig), exclude: ["*.bak"]}
          - {name: voicemail, kind: files,  path: \(pbx.voicemail)}
        stores:
          - {name: local, kind: local, path: \(dir)/store, retention: {keep_last: 7, keep_daily: 14}}
        jobs:
          - {name: nightly, schedule: "30 2 * * *", timezone: UTC, sources: [astdb, cdr, config, voicemail], stores: [local]}

        """
    }

    struct Comparison {
        var lines: [String] = []
        var failures = 0
    }

    private static func compare(pbx: DemoPBX, restored: String, cdrRowsBefore: Int, cdrRowsAfter: Int) throws
        -> Comparison
    {
        var result = Comparison()
        for (component, root) in [("config", pbx.asteriskConfig), ("voicemail", pbx.voicemail)] {
            let copyRoot = restored + "/components/\(component)" + root
            var files = 0
            var mismatches: [String] = []
            let walker = FileManager.default.enumerator(atPath: root)
            while let rel = walker?.nextObject() as? String {
                if component == "config" && rel.hasSuffix(".bak") {
                    if FileManager.default.fileExists(atPath: copyRoot + "/" + rel) { mismatches.append("\(rel) was not excluded") }
                    continue
                }
                let a = root + "/" + rel, b = copyRoot + "/" + rel
                guard let sa = LocalFiles.lstatOrNil(a), let sb = LocalFiles.lstatOrNil(b) else {
                    mismatches.append("\(rel) missing")
                    continue
                }
                if sa.st_mode != sb.st_mode { mismatches.append("\(rel) mode differs") }
                switch sa.st_mode & S_IFMT {
                case S_IFREG:
                    files += 1
                    if FileManager.default.contents(atPath: a) != FileManager.default.contents(atPath: b) {
                        mismatches.append("\(rel) content differs")
                    }
                    if sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec {
                        mismatches.append("\(rel) mtime differs")
                    }
                case S_IFLNK:
                    let ta = try? FileManager.default.destinationOfSymbolicLink(atPath: a)
                    let tb = try? FileManager.default.destinationOfSymbolicLink(atPath: b)
                    if ta != tb { mismatches.append("\(rel) link target differs") }
                default:
                    break
                }
            }
            result.failures += mismatches.count
            result.lines.append(
                mismatches.isEmpty
                    ? "\(component): \(files) files identical (content, mode, mtime), symlinks and empty folders kept"
                    : "\(component): \(mismatches.count) difference(s): \(mismatches.prefix(5).joined(separator: "; "))")
        }
        // astdb was not written during the backup: identical rows.
        let astdbCopy = restored + "/components/astdb/astdb.sqlite3"
        let rowsA = try DatabaseQueue(path: pbx.astdb).read { try Row.fetchAll($0, sql: "SELECT key, value FROM astdb ORDER BY key") }
        let rowsB = try DatabaseQueue(path: astdbCopy).read { try Row.fetchAll($0, sql: "SELECT key, value FROM astdb ORDER BY key") }
        if rowsA == rowsB {
            result.lines.append("astdb: \(rowsA.count) keys identical")
        } else {
            result.failures += 1
            result.lines.append("astdb: rows differ")
        }
        // CDR was written during the backup: a consistent copy taken at one moment.
        let cdrCopy = restored + "/components/cdr/cdr.sqlite3"
        let check = try DatabaseQueue(path: cdrCopy).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        let count = try DatabaseQueue(path: cdrCopy).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM cdr") } ?? -1
        let contiguous = try DatabaseQueue(path: cdrCopy).read {
            try Int.fetchOne($0, sql: "SELECT max(id) - min(id) + 1 - count(*) FROM cdr")
        }
        if check == "ok" && count >= cdrRowsBefore && count <= cdrRowsAfter && contiguous == 0 {
            result.lines.append(
                "cdr: integrity ok, \(count) call records: a consistent copy from the middle of the writes (\(cdrRowsBefore) before, \(cdrRowsAfter) after)")
        } else {
            result.failures += 1
            result.lines.append("cdr: integrity \(check ?? "?"), \(count) rows (expected \(cdrRowsBefore)...\(cdrRowsAfter))")
        }
        return result
    }
}

/// Inserts call records into the demo CDR database on its own thread until stopped.
final class CDRWriter: @unchecked Sendable {
    // Safe: `running` and `count` are only touched under `lock`; the queue is used by the writer thread alone.
    private let lock = NSLock()
    private var running = false
    private var count = 0
    private let path: String
    private let initial: Int
    private let finished = DispatchSemaphore(value: 0)

    init(path: String) throws {
        self.path = path
        count = try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM cdr") } ?? 0
        initial = count
    }

    var rows: Int { lock.withLock { count } }

    func start() {
        lock.withLock { running = true }
        let thread = Thread { [self] in
            var configuration = GRDB.Configuration()
            configuration.busyMode = .timeout(5)
            let queue = try? DatabaseQueue(path: path, configuration: configuration)
            var i = rows
            while lock.withLock({ running }) {
                try? queue?.write { db in try DemoPBX.insertCall(db, i) }
                i += 1
                lock.withLock { count = i }
                usleep(500)
            }
            try? queue?.close()
            finished.signal()
        }
        thread.start()
    }

    /// Stops the writer; returns how many rows it inserted.
    func stop() -> Int {
        lock.withLock { running = false }
        finished.wait()
        return rows - initial
    }
}
