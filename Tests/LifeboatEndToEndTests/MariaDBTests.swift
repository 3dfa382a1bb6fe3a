import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A `mariadb` source through the CLI against the real MariaDB of the test servers: the dump goes into
/// the encrypted archive, and what stock tools take out of it loads into a scratch database with the
/// same table checksums; a dump that fails fails the backup with the tool's words and commits nothing.
@Suite(.serialized) struct MariaDBTests {
    final class Installation {
        let dir = NSTemporaryDirectory() + "lifeboat-mariadb-" + UUID().uuidString.prefix(8)
        let servers: TestServers
        let database = "lb_e2e_" + String(UUID().uuidString.prefix(8)).lowercased()
        var config: String { dir + "/lifeboat.yaml" }

        init() throws {
            servers = try TestServers.load()
            try FileManager.default.createDirectory(atPath: dir + "/store", withIntermediateDirectories: true)
            try sql(
                """
                CREATE DATABASE \(database);
                USE \(database);
                CREATE TABLE devices (id VARCHAR(20) PRIMARY KEY, tech VARCHAR(10), dial VARCHAR(50), description VARCHAR(50)) ENGINE=InnoDB;
                INSERT INTO devices VALUES ('1001', 'pjsip', 'PJSIP/1001', 'Reception'), ('1002', 'pjsip', 'PJSIP/1002', 'Büro Ä');
                CREATE TABLE cdr (id INT AUTO_INCREMENT PRIMARY KEY, calldate DATETIME, src VARCHAR(80), dst VARCHAR(80), duration INT, recording BLOB) ENGINE=InnoDB;
                INSERT INTO cdr (calldate, src, dst, duration, recording)
                  SELECT NOW() - INTERVAL seq SECOND, CONCAT('10', seq % 100), CONCAT('+49', seq), seq % 600, UNHEX(SHA2(seq, 256))
                  FROM seq_1_to_20000;
                """)
            let keygen = try Harness.lifeboat("keygen", "--output", dir + "/key")
            guard let recipient = keygen.output.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("age1") })
            else { throw FixtureError(message: keygen.output) }
            try writeConfig(recipient: String(recipient), defaultsFile: try servers["MARIADB_DEFAULTS_FILE"])
        }

        deinit {
            _ = try? sql("DROP DATABASE IF EXISTS \(database); DROP DATABASE IF EXISTS \(database)_restored;")
            try? FileManager.default.removeItem(atPath: dir)
        }

        func writeConfig(recipient: String, defaultsFile: String) throws {
            let text = """
                host: pbx1
                state_dir: \(dir)/state
                encryption: {recipients: ["\(recipient)"], identity_file: \(dir)/key}
                sources:
                  - {name: cdr, kind: mariadb, database: \(database), defaults_file: \(defaultsFile)}
                stores: [{name: local, kind: local, path: \(dir)/store}]
                jobs: [{name: nightly, sources: [cdr], stores: [local]}]

                """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            chmod(config, 0o600)
        }

        /// Runs SQL as the test user through the `mariadb` client.
        @discardableResult
        func sql(_ statements: String) throws -> String {
            let result = try Harness.run(
                "mariadb", ["--defaults-file=\(try servers["MARIADB_DEFAULTS_FILE"])", "-N", "-B"],
                input: Data(statements.utf8))
            guard result.status == 0 else { throw FixtureError(message: "mariadb: \(result.stderr)") }
            return result.stdout
        }

        func checksums(_ db: String) throws -> String {
            try sql("CHECKSUM TABLE \(db).devices, \(db).cdr EXTENDED;")
                .split(separator: "\n").map { $0.split(separator: "\t").last.map(String.init) ?? "" }.joined(separator: " ")
        }
    }

    @Test func aDatabaseDumpedIntoTheArchiveLoadsBackWithStockTools() throws {
        let install = try Installation()
        let backup = try Harness.lifeboat("backup", "--config", install.config)
        #expect(backup.status == 0, "\(backup.output)")
        let archive = try #require(
            try FileManager.default.subpathsOfDirectory(atPath: install.dir + "/store").first { $0.hasSuffix(".age") })
        // age -d | tar --zstd -x, then cat the parts into the mariadb client.
        let out = install.dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let unpack = try Harness.shell(
            "age -d -i '\(install.dir)/key' '\(install.dir)/store/\(archive)' | tar --zstd -x -C '\(out)' && cd '\(out)' && sha256sum -c --quiet lifeboat/SHA256SUMS")
        #expect(unpack.status == 0, "\(unpack.output)")
        let parts = try FileManager.default.subpathsOfDirectory(atPath: out).filter { $0.contains(".sql.part-") }.sorted()
        #expect(parts == ["components/cdr/\(install.database).sql.part-0001"], "\(parts)")
        try install.sql("CREATE DATABASE \(install.database)_restored;")
        let load = try Harness.shell(
            "cat '\(out)'/components/cdr/\(install.database).sql.part-* | mariadb --defaults-file='\(try install.servers["MARIADB_DEFAULTS_FILE"])' \(install.database)_restored")
        #expect(load.status == 0, "\(load.output)")
        #expect(try install.checksums(install.database) == install.checksums(install.database + "_restored"))
        #expect(try install.sql("SELECT description FROM \(install.database)_restored.devices WHERE id = '1002';") == "Büro Ä\n")

        // The manifest names the component's kind and how consistency was obtained.
        let manifest = try String(contentsOfFile: out + "/lifeboat/manifest.json", encoding: .utf8)
        #expect(manifest.contains("\"kind\":\"mariadb\"") || manifest.contains("\"kind\" : \"mariadb\""), "\(manifest.prefix(600))")
        #expect(manifest.contains("single-transaction"))
    }

    @Test func aFailingDumpFailsTheBackupWithTheToolsMessageAndCommitsNothing() throws {
        let install = try Installation()
        let wrong = install.dir + "/wrong.cnf"
        try "[client]\nuser=pbxtest\npassword=not-the-password\nsocket=\(try install.servers["MARIADB_SOCKET"])\n"
            .write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let text = try String(contentsOfFile: install.config, encoding: .utf8)
        try text.replacingOccurrences(of: try install.servers["MARIADB_DEFAULTS_FILE"], with: wrong)
            .write(toFile: install.config, atomically: true, encoding: .utf8)
        var result = try Harness.lifeboat("backup", "--config", install.config)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("Access denied for user 'pbxtest'"), "\(result.output)")
        let left = try FileManager.default.subpathsOfDirectory(atPath: install.dir + "/store").filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: install.dir + "/store/" + $0, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
        #expect(left.isEmpty, "\(left)")

        // A defaults file others can read is refused at load: it holds the password.
        chmod(wrong, 0o644)
        result = try Harness.lifeboat("config", "check", "--config", install.config)
        #expect(result.status == 64)
        #expect(result.output.contains("sources[0].defaults_file: \(wrong) is readable by group or others"), "\(result.output)")
    }
}
