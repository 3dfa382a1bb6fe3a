import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto
import LifeboatStores
import Logging
import Testing

@testable import LifeboatBackup

#if canImport(Glibc)
    import Glibc
#endif

/// The `mariadb` source against the real MariaDB server of `packaging/test-servers.sh` (MARIADB_* keys in
/// servers.env): FreePBX-like databases are backed up through `BackupRunner` into a `LocalStore` while a
/// writer keeps committing, restored, loaded into scratch databases with the stock `mariadb` client, and
/// compared. Serialized: the tests load hundreds of thousands of rows on a 2-core machine.
@Suite(.serialized) struct MariaDBSourceTests {
    /// A FreePBX-like pair of databases: `asterisk` (configuration, and a two-row ledger the writer moves
    /// money in) and `asteriskcdrdb` (call records, and a counter row the writer raises in the same
    /// transaction as each record it inserts).
    struct PBXDatabases {
        let db: MariaDB
        let prefix: String
        var asterisk: String { prefix + "asterisk" }
        var cdr: String { prefix + "asteriskcdrdb" }
        static let quiescedTables = ["users", "devices", "sip", "trunks", "kvstore_blobs"]
        static let ledgerTotal = 2_000_000

        init(_ db: MariaDB, cdrRows: Int) throws {
            self.db = db
            prefix = db.prefix
            try db.query(
                """
                CREATE DATABASE \(asterisk) CHARACTER SET utf8mb4;
                USE \(asterisk);
                CREATE TABLE users (extension VARCHAR(20) PRIMARY KEY, password VARCHAR(20), name VARCHAR(50),
                    voicemail VARCHAR(50), ringtimer INT, outboundcid VARCHAR(50), sipname VARCHAR(50),
                    mohclass VARCHAR(80)) ENGINE=InnoDB;
                INSERT INTO users SELECT 200 + seq, CONCAT('pw', seq), CONCAT('Zoë Ünal 📞 ', seq), 'default', 0,
                    CONCAT('"Desk ', seq, '" <', 200 + seq, '>'), '', 'default' FROM seq_1_to_60;
                CREATE TABLE devices (id VARCHAR(20) PRIMARY KEY, tech VARCHAR(10), dial VARCHAR(50),
                    devicetype VARCHAR(5), user VARCHAR(50), description VARCHAR(50), emergency_cid VARCHAR(100))
                    ENGINE=InnoDB;
                INSERT INTO devices SELECT 200 + seq, 'pjsip', CONCAT('PJSIP/', 200 + seq), 'fixed', 200 + seq,
                    CONCAT('Desk ', seq, ' O''Brien \\\\ "quoted"'), '' FROM seq_1_to_60;
                CREATE TABLE sip (id VARCHAR(20), keyword VARCHAR(30), data VARCHAR(255), flags INT,
                    PRIMARY KEY (id, keyword)) ENGINE=InnoDB;
                INSERT INTO sip SELECT 200 + u.seq, CONCAT('key', k.seq), MD5(u.seq * 100 + k.seq), k.seq
                    FROM seq_1_to_60 u, seq_1_to_12 k;
                CREATE TABLE trunks (trunkid INT PRIMARY KEY, name VARCHAR(50), tech VARCHAR(20),
                    outcid VARCHAR(40), maxchans VARCHAR(6), dialoutprefix VARCHAR(255), channelid VARCHAR(255),
                    disabled VARCHAR(4)) ENGINE=InnoDB;
                INSERT INTO trunks VALUES (1, 'carrier-a', 'pjsip', '+4930123456', '', '', 'carrier-a', 'off'),
                    (2, 'carrier-b', 'pjsip', '', '30', '0', 'carrier-b', 'on');
                CREATE TABLE kvstore_blobs (id INT PRIMARY KEY, `key` VARCHAR(64), val BLOB) ENGINE=InnoDB;
                INSERT INTO kvstore_blobs SELECT seq, CONCAT('greeting-', seq),
                    CONCAT(UNHEX(SHA2(seq, 256)), CHAR(0, 39, 92, 10, 13, 26), UNHEX(MD5(seq))) FROM seq_1_to_300;
                CREATE TABLE ledger (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB;
                INSERT INTO ledger VALUES (1, \(Self.ledgerTotal / 2)), (2, \(Self.ledgerTotal / 2));
                CREATE TRIGGER users_name BEFORE INSERT ON users FOR EACH ROW SET NEW.name = TRIM(NEW.name);
                CREATE PROCEDURE count_users() SELECT COUNT(*) FROM users;
                CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM ledger WHERE id > 2;
                CREATE DATABASE \(cdr) CHARACTER SET utf8mb4;
                USE \(cdr);
                CREATE TABLE cdr (calldate DATETIME NOT NULL, clid VARCHAR(80), src VARCHAR(80), dst VARCHAR(80),
                    dcontext VARCHAR(80), channel VARCHAR(80), dstchannel VARCHAR(80), lastapp VARCHAR(80),
                    lastdata VARCHAR(80), duration INT, billsec INT, disposition VARCHAR(45), amaflags INT,
                    accountcode VARCHAR(20), uniqueid VARCHAR(32), userfield VARCHAR(255), did VARCHAR(50),
                    recordingfile VARCHAR(255), cnum VARCHAR(80), cnam VARCHAR(80), linkedid VARCHAR(32),
                    sequence INT, KEY calldate (calldate), KEY dst (dst)) ENGINE=InnoDB;
                INSERT INTO cdr SELECT '2026-01-01' + INTERVAL seq SECOND, CONCAT('"Caller" <', seq % 900, '>'),
                    seq % 900, 200 + seq % 60, 'from-internal', CONCAT('PJSIP/', seq % 900, '-', HEX(seq)),
                    CONCAT('PJSIP/', 200 + seq % 60), 'Dial', 'PJSIP/201,,HhtrIb', seq % 300, seq % 280,
                    'ANSWERED', 3, '', CONCAT('1767225600.', seq), '', '', '', seq % 900, 'Caller',
                    CONCAT('1767225600.', seq), seq FROM seq_1_to_\(cdrRows);
                CREATE TABLE cdr_count (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB;
                INSERT INTO cdr_count VALUES (1, \(cdrRows));
                """)
        }
    }

    // MARK: Consistency under writes

    /// The backup runs while another client keeps committing; every restored database holds one
    /// transaction-consistent moment of its source.
    @Test func aBackupUnderConcurrentWritesRestoresAConsistentSnapshot() throws {
        let db = try MariaDB()
        defer { db.dropEverything() }
        let pbx = try PBXDatabases(db, cdrRows: 200_000)
        let writer = LedgerWriter(db: db, asterisk: pbx.asterisk, cdr: pbx.cdr)
        writer.start()
        defer { _ = writer.stop() }
        try writer.waitForBatches(2)

        let dir = try TempDir()
        let identity = try AgeX25519Identity.generate()
        let options = try MariaDBDumpOptions(
            databases: [pbx.asterisk, pbx.cdr], defaultsFile: try db.servers["MARIADB_DEFAULTS_FILE"])
        let plan = makePlan(
            dir, sources: [SourceSpec(name: "pbxdb", kind: .mariadb(options))],
            recipients: [.x25519(identity.recipient)])
        let store = try makeStore(dir)
        let before = writer.batches
        let result = try BackupRunner(plan: plan, stores: [store], logger: Logger(label: "test")).run()
        let during = writer.batches - before
        #expect(writer.stop() == nil)
        #expect(result.status == .succeeded)
        #expect(during > 0, "the writer committed nothing while the backup ran")

        // The stock restore path: decrypt, check every hash, extract.
        let out = dir.path + "/out"
        let reader = try #require(try store.makeReader(for: result.archiveName))
        let restored = try RestoreRunner.run(
            RestoreRequest(input: reader, identities: [.x25519(identity)], target: out))
        let component = try #require(restored.manifest.components.first)
        #expect(component.kind == "mariadb")
        #expect(component.consistency == "mariadb-dump --single-transaction")
        #expect(component.source == "\(pbx.asterisk), \(pbx.cdr)")
        let dumped = try #require(result.sidecar.components.first?.bytes)
        #expect(dumped > 20_000_000, "200k call records make a dump of tens of MB, the sidecar says \(dumped)")

        for database in [pbx.asterisk, pbx.cdr] {
            let parts = try partFiles(out + "/components/pbxdb", database: database)
            #expect(parts.count >= 1)
            try db.loadParts(parts, into: "\(db.prefix)copy_\(database)")
        }
        let copyAsterisk = "\(db.prefix)copy_\(pbx.asterisk)"
        let copyCDR = "\(db.prefix)copy_\(pbx.cdr)"

        // Money moved between the two rows in single transactions: the sum never changes.
        let balances = try db.query("SELECT balance FROM ledger ORDER BY id", database: copyAsterisk)
            .split(separator: "\n").compactMap { Int($0) }
        #expect(balances.count == 2)
        #expect(balances.reduce(0, +) == PBXDatabases.ledgerTotal, "balances \(balances)")
        #expect(balances[0] != PBXDatabases.ledgerTotal / 2, "no transfer before the dump: the test proves nothing")
        // Each call record was inserted with its counter increment: the counts agree.
        let copied = try db.int("SELECT COUNT(*) FROM cdr", database: copyCDR)
        #expect(copied == (try db.int("SELECT n FROM cdr_count", database: copyCDR)))
        #expect(copied > 200_000)
        #expect(copied < (try db.int("SELECT COUNT(*) FROM cdr", database: pbx.cdr)), "the dump saw the end state")

        // Tables nobody wrote: identical to the source.
        for table in PBXDatabases.quiescedTables {
            #expect(try db.checksum(copyAsterisk + "." + table) == (try db.checksum(pbx.asterisk + "." + table)))
        }
        // Routines, triggers and events came along.
        #expect(try db.objectCounts(copyAsterisk) == [1, 1, 1])
    }

    // MARK: Failures

    @Test func aWrongPasswordFailsTheBackupWithTheToolsMessage() throws {
        let db = try MariaDB()
        defer { db.dropEverything() }
        let dir = try TempDir()
        let wrong = dir.path + "/wrong.cnf"
        try
            "[client]\nuser=\(try db.servers["MARIADB_USER"])\npassword=not-the-password\nsocket=\(try db.servers["MARIADB_SOCKET"])\n"
            .write(toFile: wrong, atomically: true, encoding: .utf8)
        let options = try MariaDBDumpOptions(databases: ["mysql"], defaultsFile: wrong)
        let plan = makePlan(dir, sources: [SourceSpec(name: "pbxdb", kind: .mariadb(options))])
        let store = try makeStore(dir)
        do {
            _ = try BackupRunner(plan: plan, stores: [store], logger: Logger(label: "test")).run()
            Issue.record("a dump with a wrong password succeeded")
        } catch let error as BackupError {
            #expect(error.code == .sourceUnreadable)
            #expect(
                error.message.contains(
                    "mariadb-dump: Got error: 1045: \"Access denied for user 'pbxtest'@'localhost' (using password: YES)\""
                ),
                "\(error.message)")
            #expect(error.message.hasPrefix("source 'pbxdb': mariadb-dump of database 'mysql' failed (exit status 2)"))
            #expect(!error.message.contains("not-the-password"))
        }
        try expectNothingCommitted(store)
    }

    /// The first database dumps fine and is already in the archive when the second fails: the whole
    /// backup fails and nothing is committed.
    @Test func aMissingDatabaseFailsTheWholeBackup() throws {
        let db = try MariaDB()
        defer { db.dropEverything() }
        let pbx = try PBXDatabases(db, cdrRows: 1000)
        let dir = try TempDir()
        let missing = db.prefix + "no_such_db"
        let options = try MariaDBDumpOptions(
            databases: [pbx.asterisk, missing], defaultsFile: try db.servers["MARIADB_DEFAULTS_FILE"])
        let plan = makePlan(dir, sources: [SourceSpec(name: "pbxdb", kind: .mariadb(options))])
        let store = try makeStore(dir)
        do {
            _ = try BackupRunner(plan: plan, stores: [store], logger: Logger(label: "test")).run()
            Issue.record("a dump of a missing database succeeded")
        } catch let error as BackupError {
            #expect(
                error.message.contains(
                    "mariadb-dump: Got error: 1049: \"Unknown database '\(missing)'\" when selecting the database"),
                "\(error.message)")
        }
        try expectNothingCommitted(store)
    }

    /// Cancelling the run while the dump waits on a locked table kills the dump and commits nothing.
    @Test func cancellationKillsTheDump() throws {
        let db = try MariaDB()
        defer { db.dropEverything() }
        let pbx = try PBXDatabases(db, cdrRows: 1000)
        // Another session holds a write lock: the dump blocks on the table's metadata lock.
        let lockRelease = CancellationFlag()
        let sleep = "SELECT SLEEP(60) AS \(db.prefix)locked"
        let locker = Thread {
            _ = try? ChildProcess(
                "mariadb",
                arguments: [
                    "--defaults-file=" + db.defaultsFile, "-e", "LOCK TABLES trunks WRITE; " + sleep, pbx.asterisk,
                ]
            ).run(cancellation: lockRelease)
        }
        locker.start()
        defer {
            lockRelease.cancel(reason: "test over")
            // The server notices a vanished client only when it next talks to it: end the session itself.
            let ids = (try? db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = '\(sleep)'")) ?? ""
            for id in ids.split(separator: "\n") { _ = try? db.query("KILL \(id)") }
        }
        try db.waitFor("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = '\(sleep)'")

        let dir = try TempDir()
        let options = try MariaDBDumpOptions(databases: [pbx.asterisk], defaultsFile: db.defaultsFile)
        let plan = makePlan(dir, sources: [SourceSpec(name: "pbxdb", kind: .mariadb(options))])
        let store = try makeStore(dir)
        let flag = CancellationFlag()
        let outcome = Outcome()
        let backup = Thread {
            do {
                _ = try BackupRunner(plan: plan, stores: [store], logger: Logger(label: "test"), cancellation: flag)
                    .run()
                outcome.set("succeeded")
            } catch {
                outcome.set("\(error)")
            }
        }
        backup.start()
        try db.waitFor(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table metadata lock'")
        #expect(dumpProcesses(of: pbx.asterisk) == 1)
        let cancelled = ContinuousClock.now
        flag.cancel(reason: "the daemon is shutting down")
        let message = try outcome.wait(seconds: 10)
        #expect(ContinuousClock.now - cancelled < .seconds(3))
        #expect(message == "the backup was stopped before it was committed: the daemon is shutting down")
        #expect(dumpProcesses(of: pbx.asterisk) == 0, "mariadb-dump still runs")
        try expectNothingCommitted(store)
    }

    // MARK: Parts

    /// A dump of many parts (the part size forced small) restores byte for byte as `mysqldump` writes
    /// it, also through the stock tools (`age -d | tar -x`, `cat part-* | mariadb`); kind mysql, over TCP.
    @Test func aDumpOfManyPartsRestoresByteIdenticalWithStockTools() throws {
        let db = try MariaDB()
        defer { db.dropEverything() }
        let pbx = try PBXDatabases(db, cdrRows: 5000)
        let dir = try TempDir()
        let identity = try AgeX25519Identity.generate()
        let tcp = try db.servers["MARIADB_TCP_DEFAULTS_FILE"]
        let options = try MariaDBDumpOptions(flavour: .mysql, databases: [pbx.cdr], defaultsFile: tcp)
        let partSize = 100_000
        let plan = makePlan(
            dir, sources: [SourceSpec(name: "cdr", kind: .mariadb(options))], recipients: [.x25519(identity.recipient)],
            partSize: partSize)
        let store = try makeStore(dir)
        let result = try BackupRunner(plan: plan, stores: [store], logger: Logger(label: "test")).run()
        #expect(result.status == .succeeded)

        // Stock tools only: age, tar with zstd, cat, the mariadb client.
        let key = dir.path + "/key.txt"
        try (identity.encoded + "\n").write(toFile: key, atomically: true, encoding: .utf8)
        let out = dir.path + "/stock"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try run(
            "/bin/sh", "-c", "age -d -i \"$1\" \"$2\" | tar --zstd -x -C \"$3\"", "sh", key,
            store.root + "/" + result.archiveName, out)
        let parts = try partFiles(out + "/components/cdr", database: pbx.cdr)
        #expect(parts.count > 5, "\(parts.count) parts")
        for (i, part) in parts.enumerated() {
            #expect(part.hasSuffix(String(format: ".sql.part-%04d", i + 1)))
            let size = try FileManager.default.attributesOfItem(atPath: part)[.size] as? Int
            #expect(i == parts.count - 1 ? size! <= partSize : size == partSize, "\(part): \(size ?? -1) bytes")
        }
        let manifest = try LifeboatJSON.decode(
            Manifest.self, from: Array(try Data(contentsOf: URL(fileURLWithPath: out + "/lifeboat/manifest.json"))))
        #expect(manifest.components.first?.kind == "mysql")
        #expect(manifest.components.first?.consistency == "mysqldump --single-transaction")
        try run("/bin/sh", "-c", "cd \"$1\" && sha256sum -c --quiet lifeboat/SHA256SUMS", "sh", out)

        // Byte for byte what the tool writes on its own (but for the trailing date comment).
        let independent = try ChildProcess(
            "mysqldump", arguments: ["--defaults-file=" + tcp] + MariaDBDumpOptions.dumpFlags + ["--", pbx.cdr]
        ).run(limit: 64 << 20).bytes
        var archived: [UInt8] = []
        for part in parts { archived += try Array(Data(contentsOf: URL(fileURLWithPath: part))) }
        #expect(archived.count > 5 * partSize)
        #expect(withoutDumpDate(archived) == withoutDumpDate(independent))

        let copy = db.prefix + "drill_cdr"
        try db.query("CREATE DATABASE \(copy)")
        try run(
            "/bin/sh", "-c", "cat \"$1\"/*.sql.part-* | mariadb --defaults-file=\"$2\" \"$3\"", "sh",
            out + "/components/cdr", db.defaultsFile, copy)
        for table in ["cdr", "cdr_count"] {
            #expect(try db.checksum(copy + "." + table) == (try db.checksum(pbx.cdr + "." + table)))
        }
    }

    // MARK: Privileges

    /// What a dump user needs, measured: without EVENT the dump fails (`--events`); without TRIGGER or
    /// SELECT on mysql.proc the triggers or routines would be left out silently, so the documented grant
    /// includes both.
    @Test func theDocumentedLeastPrivilegeGrantDumpsEverything() throws {
        let db = try MariaDB()
        defer { db.dropEverything() }
        let pbx = try PBXDatabases(db, cdrRows: 10)
        let user = db.prefix + "dump"
        defer { _ = try? db.query("DROP USER IF EXISTS '\(user)'@'localhost'", root: true) }
        try db.query(
            """
            CREATE USER '\(user)'@'localhost' IDENTIFIED BY 'dump-pass';
            GRANT SELECT, SHOW VIEW, TRIGGER ON \(pbx.asterisk).* TO '\(user)'@'localhost';
            GRANT SELECT ON mysql.proc TO '\(user)'@'localhost';
            """, root: true)
        let dir = try TempDir()
        let file = dir.path + "/dump.cnf"
        try "[client]\nuser=\(user)\npassword=dump-pass\nsocket=\(try db.servers["MARIADB_SOCKET"])\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let options = try MariaDBDumpOptions(databases: [pbx.asterisk], defaultsFile: file)
        let dump = try #require(try MariaDBDump.plan(component: "c", options: options).first)
        do {
            _ = try dump.produce(cancellation: nil) { _ in }
            Issue.record("the dump succeeded without the EVENT privilege")
        } catch let error as BackupError {
            #expect(
                error.message.contains(
                    "Couldn't execute 'show events': Access denied for user '\(user)'@'localhost' to database '\(pbx.asterisk)' (1044)"
                ),
                "\(error.message)")
        }
        try db.query("GRANT EVENT ON \(pbx.asterisk).* TO '\(user)'@'localhost'", root: true)
        let sink = MemorySink()
        _ = try dump.produce(cancellation: nil) { try sink.write($0) }
        let text = String(decoding: sink.bytes, as: UTF8.self)
        #expect(text.contains("TRIGGER `users_name`") || text.contains("TRIGGER users_name"))
        #expect(text.contains("PROCEDURE `count_users`"))
        #expect(text.contains("EVENT `nightly`"))
        #expect(!text.contains("CREATE DATABASE") && !text.contains("\nUSE "), "the dump names its database")
    }

    // MARK: Options (no server)

    @Test func optionsAreValidatedAndTurnedIntoArguments() throws {
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: []) }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: ["a", "a"]) }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: ["a", "b"], tables: ["t"]) }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: ["a/b"]) }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: [".."]) }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: ["a"], defaultsFile: "my.cnf") }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: ["a"], dumpCommand: "mysqldump") }
        #expect(throws: BackupError.self) { try MariaDBDumpOptions(databases: ["a"], excludeTables: [""]) }

        let dir = try TempDir()
        let login = dir.path + "/mariadb.cnf"
        _ = FileManager.default.createFile(atPath: login, contents: Data("[client]\n".utf8))
        let options = try MariaDBDumpOptions(
            databases: ["asterisk", "asteriskcdrdb"], excludeTables: ["asteriskcdrdb.cel", "queue_log"],
            defaultsFile: login, dumpCommand: "/bin/true")
        let dumps = try MariaDBDump.plan(component: "pbx", options: options, searchPath: "/nonexistent")
            .map { $0.arguments }
        #expect(
            dumps == [
                [
                    "--defaults-file=" + login, "--single-transaction", "--routines", "--triggers",
                    "--events", "--hex-blob", "--ignore-table=asterisk.queue_log", "--", "asterisk",
                ],
                [
                    "--defaults-file=" + login, "--single-transaction", "--routines", "--triggers",
                    "--events", "--hex-blob", "--ignore-table=asteriskcdrdb.cel",
                    "--ignore-table=asteriskcdrdb.queue_log", "--", "asteriskcdrdb",
                ],
            ])
        let some = try MariaDBDumpOptions(
            databases: ["asterisk"], tables: ["users", "devices"], dumpCommand: "/bin/true")
        #expect(
            try MariaDBDump.plan(component: "c", options: some).first?.arguments.suffix(4) == [
                "--", "asterisk", "users", "devices",
            ])
    }

    @Test func theDumpToolIsFoundOrNamed() throws {
        let dir = try TempDir()
        for name in ["mariadb-dump", "mysqldump"] {
            _ = FileManager.default.createFile(atPath: dir.path + "/" + name, contents: Data("#!/bin/sh\n".utf8))
            chmod(dir.path + "/" + name, 0o755)
        }
        let mariadb = try MariaDBDumpOptions(databases: ["a"])
        let mysql = try MariaDBDumpOptions(flavour: .mysql, databases: ["a"])
        #expect(
            try MariaDBDump.plan(component: "c", options: mariadb, searchPath: dir.path).first?.tool == dir.path
                + "/mariadb-dump")
        #expect(
            try MariaDBDump.plan(component: "c", options: mysql, searchPath: dir.path).first?.tool == dir.path
                + "/mysqldump")
        try FileManager.default.removeItem(atPath: dir.path + "/mariadb-dump")
        #expect(
            try MariaDBDump.plan(component: "c", options: mariadb, searchPath: dir.path).first?.consistency
                == "mysqldump --single-transaction")
        do {
            _ = try MariaDBDump.plan(component: "c", options: mariadb, searchPath: "/nonexistent")
            Issue.record("a missing tool was not noticed")
        } catch let error as BackupError {
            #expect(error.code == .sourceMissing)
            #expect(
                error.message
                    == "source 'c': mariadb-dump or mysqldump is not installed (Debian: apt install mariadb-client)")
        }
        let missingFile = try MariaDBDumpOptions(
            databases: ["a"], defaultsFile: dir.path + "/none.cnf", dumpCommand: "/bin/true")
        #expect(throws: BackupError.self) { try MariaDBDump.plan(component: "c", options: missingFile) }
    }

    @Test func partsAreFixedSizeAndNamedInOrder() throws {
        let sink = MemorySink()
        let tar = try TarWriter(output: sink, compression: ArchiveCompression(algorithm: .none, level: nil))
        let writer = StreamPartWriter(
            tar: tar, archivePath: "components/c/db.sql", mode: 0o600, mtime: 0, partSize: 1000)
        var expected: [UInt8] = []
        for i in 0..<37 {
            let chunk = [UInt8](repeating: UInt8(i), count: 97 * (i % 5))
            expected += chunk
            try chunk.withUnsafeBytes { try writer.write($0) }
        }
        let parts = try writer.finish()
        try tar.finish()
        #expect(parts.count == (expected.count + 999) / 1000)
        #expect(parts.map(\.path) == (1...parts.count).map { String(format: "components/c/db.sql.part-%04d", $0) })
        #expect(parts.dropLast().allSatisfy { $0.size == 1000 })

        // The archive holds the parts in order, each of its recorded size, together the stream.
        let reader = try TarReader(input: MemorySource(sink.bytes))
        var read: [UInt8] = []
        var sizes: [Int64] = []
        while let entry = try reader.next() {
            #expect(entry.mode == 0o600)
            sizes.append(entry.size)
            read += try readAll(reader)
        }
        #expect(sizes == parts.map(\.size))
        #expect(read == expected)

        // An empty stream still has its one (empty) part.
        let tar2 = try TarWriter(output: MemorySink(), compression: ArchiveCompression(algorithm: .none, level: nil))
        let none = StreamPartWriter(tar: tar2, archivePath: "components/c/e.sql", mode: 0o600, mtime: 0, partSize: 10)
        #expect(try none.finish().map(\.path) == ["components/c/e.sql.part-0001"])
    }

    // MARK: Helpers

    func readAll(_ reader: TarReader) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    func makePlan(
        _ dir: TempDir, sources: [SourceSpec], recipients: [AgeRecipient]? = nil,
        partSize: Int = BackupPlan.defaultStreamPartSize
    ) -> BackupPlan {
        BackupPlan(
            job: "pbx", host: "pbx1", sources: sources, recipients: recipients,
            compression: ArchiveCompression(algorithm: .zstd, level: 3),
            pbx: .init(product: "FreePBX", firmwareVersion: nil),
            naming: ObjectNaming(prefix: ""), stagingDirectory: dir.path + "/staging", agentVersion: "test",
            streamPartSize: partSize)
    }

    func makeStore(_ dir: TempDir) throws -> LocalStore {
        try FileManager.default.createDirectory(atPath: dir.path + "/store", withIntermediateDirectories: true)
        return LocalStore(name: "local", root: dir.path + "/store")
    }

    func expectNothingCommitted(_ store: LocalStore) throws {
        #expect(try SnapshotCatalog.list(store: store, prefix: "").snapshots.isEmpty)
        let left = (FileManager.default.enumerator(atPath: store.root)?.allObjects as? [String] ?? []).filter {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: store.root + "/" + $0, isDirectory: &isDirectory)
            return !isDirectory.boolValue
        }
        #expect(left.isEmpty, "files left in the store: \(left)")
    }

    /// The part files of a database's dump in a restored folder, in glob order.
    func partFiles(_ folder: String, database: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(database + ".sql.part-") }
            .sorted().map { folder + "/" + $0 }
    }

    /// Running `mariadb-dump` processes whose arguments name `database`.
    func dumpProcesses(of database: String) -> Int {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { pid in
            guard pid.allSatisfy(\.isNumber),
                let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
            else { return false }
            let words = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.first?.hasSuffix("mariadb-dump") == true && words.contains(database)
        }.count
    }

    func withoutDumpDate(_ bytes: [UInt8]) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        return Array(
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("-- Dump completed on ") }.joined(separator: "\n").utf8)
    }

    @discardableResult
    func run(_ executable: String, _ arguments: String...) throws -> String {
        try ChildProcess(executable, arguments: arguments).run(limit: 1 << 20).text
    }
}

/// The test server's `mariadb` client, logged in with the option files from servers.env.
struct MariaDB {
    let servers: TestServers
    let defaultsFile: String
    let rootDefaultsFile: String
    /// Every database a test makes starts with this, so that they can all be dropped.
    let prefix = "lbt" + UUID().uuidString.prefix(6).lowercased() + "_"

    init() throws {
        servers = try TestServers.load()
        defaultsFile = try servers["MARIADB_DEFAULTS_FILE"]
        rootDefaultsFile = try servers["MARIADB_ROOT_DEFAULTS_FILE"]
    }

    @discardableResult
    func query(_ sql: String, database: String? = nil, root: Bool = false) throws -> String {
        let arguments =
            [
                "--defaults-file=" + (root ? rootDefaultsFile : defaultsFile), "--batch", "--skip-column-names",
                "-e", sql,
            ] + (database.map { [$0] } ?? [])
        return try ChildProcess("mariadb", arguments: arguments).run(limit: 16 << 20).text
    }

    func int(_ sql: String, database: String? = nil) throws -> Int {
        let text = try query(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = Int(text) else { throw CommandFailed(description: "'\(sql)' gave '\(text)'") }
        return value
    }

    /// `CHECKSUM TABLE`'s value.
    func checksum(_ table: String) throws -> String {
        let line = try query("CHECKSUM TABLE \(table)").trimmingCharacters(in: .whitespacesAndNewlines)
        let value = String(line.split(separator: "\t").last ?? "")
        guard !value.isEmpty, value != "NULL" else {
            throw CommandFailed(description: "CHECKSUM TABLE \(table): \(line)")
        }
        return value
    }

    /// Routines, triggers and events of a database.
    func objectCounts(_ database: String) throws -> [Int] {
        try query(
            """
            SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '\(database)'
            UNION ALL SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '\(database)'
            UNION ALL SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '\(database)'
            """
        ).split(separator: "\n").compactMap { Int($0) }
    }

    /// Creates `database` and feeds it the parts in order, as `cat part-* | mariadb database` would.
    func loadParts(_ parts: [String], into database: String) throws {
        try query("CREATE DATABASE \(database)")
        let joined = parts[0] + ".joined"
        _ = FileManager.default.createFile(atPath: joined, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: joined))
        for part in parts { handle.write(try Data(contentsOf: URL(fileURLWithPath: part))) }
        try handle.close()
        var client = ChildProcess("mariadb", arguments: ["--defaults-file=" + defaultsFile, database])
        client.standardInput = joined
        _ = try client.run(limit: 1 << 20)
    }

    /// Polls a `SELECT COUNT(*)` until it is above 0.
    func waitFor(_ sql: String, seconds: Double = 15) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try int(sql) == 0 {
            guard Date() < deadline else { throw CommandFailed(description: "waited \(seconds) s for: \(sql)") }
            usleep(50_000)
        }
    }

    func dropEverything() {
        guard
            let names = try? query(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '\(prefix)%'")
        else { return }
        for name in names.split(separator: "\n") { _ = try? query("DROP DATABASE `\(name)`") }
    }
}

/// Keeps committing small transactions from another client: money moved between the two ledger rows,
/// and call records inserted together with the counter row, each in ONE transaction.
final class LedgerWriter: @unchecked Sendable {
    // Safe: the counters are only touched under the lock; the thread is started once.
    private let lock = NSLock()
    private var done = 0
    private var failure: String?
    private let stopFlag = Flag()
    private let finished = DispatchSemaphore(value: 0)
    private let db: MariaDB
    private let asterisk: String
    private let cdr: String

    init(db: MariaDB, asterisk: String, cdr: String) {
        self.db = db
        self.asterisk = asterisk
        self.cdr = cdr
    }

    var batches: Int { lock.withLock { done } }

    func start() {
        Thread { [self] in
            var generator = SeededGenerator(seed: 7)
            var sequence = 10_000_000
            while !stopFlag.isSet {
                var sql = ""
                for _ in 0..<25 {
                    let amount = Int.random(in: 1...500, using: &generator)
                    let (from, to) = Bool.random(using: &generator) ? (1, 2) : (2, 1)
                    sql += """
                        START TRANSACTION;
                        UPDATE \(asterisk).ledger SET balance = balance - \(amount) WHERE id = \(from);
                        UPDATE \(asterisk).ledger SET balance = balance + \(amount) WHERE id = \(to);
                        COMMIT;
                        START TRANSACTION;
                        INSERT INTO \(cdr).cdr (calldate, src, dst, dcontext, disposition, billsec, uniqueid, sequence)
                            VALUES (NOW(), '201', '\(200 + amount % 60)', 'from-internal', 'ANSWERED', \(amount),
                            'live.\(sequence)', \(sequence));
                        UPDATE \(cdr).cdr_count SET n = n + 1 WHERE id = 1;
                        COMMIT;

                        """
                    sequence += 1
                }
                do {
                    try db.query(sql)
                    lock.withLock { done += 1 }
                } catch {
                    lock.withLock { failure = "\(error)" }
                    break
                }
            }
            finished.signal()
        }.start()
    }

    func waitForBatches(_ count: Int) throws {
        let deadline = Date().addingTimeInterval(30)
        while batches < count {
            if let failure = lock.withLock({ failure }) { throw CommandFailed(description: failure) }
            guard Date() < deadline else { throw CommandFailed(description: "the writer made no progress") }
            usleep(20_000)
        }
    }

    /// Stops the writer (once) and returns its failure, if it had one.
    func stop() -> String? {
        if !stopFlag.isSet {
            stopFlag.set()
            finished.wait()
        }
        return lock.withLock { failure }
    }
}

/// A command that failed, with its output.
struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

/// A value set on one thread and awaited on another.
final class Outcome: @unchecked Sendable {
    // Safe: guarded by the lock; the semaphore orders the hand-over.
    private let lock = NSLock()
    private var value: String?
    private let ready = DispatchSemaphore(value: 0)

    func set(_ value: String) {
        lock.withLock { self.value = value }
        ready.signal()
    }

    func wait(seconds: Double) throws -> String {
        guard ready.wait(timeout: .now() + seconds) == .success else {
            throw CommandFailed(description: "no outcome after \(seconds) s")
        }
        return lock.withLock { value ?? "" }
    }
}

extension ChildProcess {
    /// Runs to the end and requires success; the output, or the command's own error message.
    func run(limit: Int) throws -> (text: String, bytes: [UInt8]) {
        var child = self
        child.standardOutputLimit = limit
        let result = try child.run()
        guard result.succeeded, !result.standardOutputTruncated else {
            throw CommandFailed(
                description: "\(executable) \(arguments.filter { !$0.hasPrefix("--defaults") }.prefix(3)) failed "
                    + "(\(result.termination)): \(result.standardErrorText)")
        }
        return (result.standardOutputText, result.standardOutput)
    }
}
