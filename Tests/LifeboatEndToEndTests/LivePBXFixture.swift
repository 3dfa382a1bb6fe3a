import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A small live PBX in a temporary folder for hooks and in-place restores: a configuration tree
/// (`pjsip.conf` starts with a marker line), an SQLite astdb, optionally a MariaDB database on the test
/// servers (unique name, with a trigger and a view), a firmware version file, a key, a local store, and
/// a hook script that appends `PHASE WHO marker=… result=…` to `order.log`.
final class LivePBXFixture {
    let dir = NSTemporaryDirectory() + "lifeboat-live-" + UUID().uuidString.prefix(8)
    let servers: TestServers?
    let database: String?
    var recipient = ""
    var config: String { dir + "/lifeboat.yaml" }
    var etc: String { dir + "/pbx/etc/asterisk" }
    var pjsip: String { etc + "/pjsip.conf" }
    var astdb: String { dir + "/pbx/var/lib/asterisk/astdb.sqlite3" }
    var versionFile: String { dir + "/pbx/version" }
    var store: String { dir + "/store" }
    var key: String { dir + "/key" }
    var orderLog: String { dir + "/order.log" }
    var logHook: String { dir + "/hooks/log.sh" }

    init(mariadb: Bool, hooks: Hooks? = nil) throws {
        servers = mariadb ? try TestServers.load() : nil
        database = mariadb ? "lb_inplace_" + String(UUID().uuidString.prefix(8)).lowercased() : nil
        let fm = FileManager.default
        for folder in [etc + "/custom.d", LocalPath.parent(astdb), store, dir + "/hooks"] {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try "; marker v1\n[transport-udp]\ntype=transport\n".write(toFile: pjsip, atomically: true, encoding: .utf8)
        try "[general]\nserveremail=pbx@example.com\n".write(
            toFile: etc + "/voicemail.conf", atomically: true, encoding: .utf8)
        try "; holidays\n".write(toFile: etc + "/custom.d/holiday-hours.conf", atomically: true, encoding: .utf8)
        try "; old copy, excluded\n".write(toFile: etc + "/extensions.conf.bak", atomically: true, encoding: .utf8)
        try "16.0.1\n".write(toFile: versionFile, atomically: true, encoding: .utf8)
        try sqlite(
            "PRAGMA journal_mode=WAL; CREATE TABLE astdb (key TEXT PRIMARY KEY, value TEXT); INSERT INTO astdb VALUES ('/DEVICE/1001/default_user', '1001'), ('/CW/1001', 'ENABLED');"
        )
        try """
        #!/bin/sh
        marker=$(head -n 1 '\(pjsip)' 2>/dev/null)
        echo "$LIFEBOAT_HOOK $1 marker=$marker result=${LIFEBOAT_RESULT:-}" >> '\(orderLog)'

        """.write(toFile: logHook, atomically: true, encoding: .utf8)
        if let database {
            try sql(
                """
                CREATE DATABASE \(database);
                USE \(database);
                CREATE TABLE devices (id VARCHAR(20) PRIMARY KEY, dial VARCHAR(50), description VARCHAR(50)) ENGINE=InnoDB;
                CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(80)) ENGINE=InnoDB;
                CREATE TABLE cdr (id INT AUTO_INCREMENT PRIMARY KEY, src VARCHAR(80), dst VARCHAR(80), duration INT) ENGINE=InnoDB;
                CREATE TRIGGER devices_audit AFTER INSERT ON devices FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('added ', NEW.id));
                CREATE VIEW long_calls AS SELECT id, src, dst FROM cdr WHERE duration > 300;
                INSERT INTO devices VALUES ('1001', 'PJSIP/1001', 'Reception'), ('1002', 'PJSIP/1002', 'Büro Ä');
                INSERT INTO cdr (src, dst, duration) SELECT CONCAT('10', seq % 100), CONCAT('+49', seq), seq % 600 FROM seq_1_to_5000;
                """)
        }
        let keygen = try Harness.lifeboat("keygen", "--output", key)
        guard let found = keygen.output.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("age1") })
        else {
            throw FixtureError(message: keygen.output)
        }
        recipient = String(found)
        try writeConfig(hooks: hooks ?? Self.orderHooks(logHook))
    }

    deinit {
        if let database { _ = try? sql("DROP DATABASE IF EXISTS \(database);") }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Extra configuration: lines of the job (indented four spaces), and flow keys per source.
    struct Hooks {
        var job: [String] = []
        var sources: [String: String] = [:]
    }

    /// Hooks that log their order: the job's and each source's (cdr's pre_restore is the job's, so it runs once).
    static func orderHooks(_ script: String) -> Hooks {
        Hooks(
            job: [
                "    pre_restore: [/bin/sh, \(script), job]",
                "    post_restore: [/bin/sh, \(script), job]",
            ],
            sources: [
                "config": "pre_restore: [/bin/sh, \(script), config], post_restore: [/bin/sh, \(script), config]",
                "astdb": "pre_restore: [/bin/sh, \(script), astdb], post_restore: [/bin/sh, \(script), astdb]",
                "cdr": "pre_restore: [/bin/sh, \(script), job]",
            ])
    }

    func writeConfig(hooks: Hooks) throws {
        let jobLines = hooks.job
        let sourceExtra = hooks.sources.mapValues { ", " + $0 }
        var sources = [
            "  - {name: config, kind: files, path: \(etc), exclude: [\"*.bak\"]\(sourceExtra["config"] ?? "")}",
            "  - {name: astdb, kind: sqlite, path: \(astdb)\(sourceExtra["astdb"] ?? "")}",
        ]
        var names = ["config", "astdb"]
        if let database, let servers {
            sources.insert(
                "  - {name: cdr, kind: mariadb, database: \(database), defaults_file: \(try servers["MARIADB_DEFAULTS_FILE"])\(sourceExtra["cdr"] ?? "")}",
                at: 0)
            names.insert("cdr", at: 0)
        }
        let text = """
            host: pbx1
            state_dir: \(dir)/state
            pbx: {product: freepbx, firmware_version_file: \(versionFile)}
            encryption: {recipients: ["\(recipient)"], identity_file: \(key)}
            sources:
            \(sources.joined(separator: "\n"))
            stores: [{name: local, kind: local, path: \(store)}]
            jobs:
              - name: nightly
                sources: [\(names.joined(separator: ", "))]
                stores: [local]
            \(jobLines.joined(separator: "\n"))

            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
    }

    @discardableResult
    func lifeboat(_ arguments: String...) throws -> Harness.Result {
        try Harness.lifeboat(arguments + ["--config", config])
    }

    /// Runs SQL on the test MariaDB as the test user.
    @discardableResult
    func sql(_ statements: String) throws -> String {
        guard let servers else { throw FixtureError(message: "no MariaDB in this fixture") }
        let result = try Harness.run(
            "mariadb", ["--defaults-file=\(try servers["MARIADB_DEFAULTS_FILE"])", "-N", "-B"],
            input: Data(statements.utf8))
        guard result.status == 0 else { throw FixtureError(message: "mariadb: \(result.stderr)") }
        return result.stdout
    }

    /// `CHECKSUM TABLE … EXTENDED` of the database's tables, in one line.
    func checksums() throws -> String {
        let db = database ?? ""
        return try sql("CHECKSUM TABLE \(db).devices, \(db).audit, \(db).cdr EXTENDED;")
            .split(separator: "\n").map { $0.split(separator: "\t").last.map(String.init) ?? "" }.joined(separator: " ")
    }

    /// Databases an in-place restore makes for itself (scratch and holding).
    func restoreDatabases() throws -> [String] {
        try sql("SHOW DATABASES LIKE 'lifeboat\\_%';").split(separator: "\n").map(String.init).sorted()
    }

    @discardableResult
    func sqlite(_ statements: String) throws -> String {
        let result = try Harness.run("sqlite3", [astdb, statements])
        guard result.status == 0 else { throw FixtureError(message: "sqlite3: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func order() -> [String] {
        ((try? String(contentsOfFile: orderLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing>" }

    /// What restores must not leave behind: `.lifeboat-old` and `.lifeboat-restore-…` entries.
    func leftovers() -> [String] {
        (FileManager.default.subpaths(atPath: dir + "/pbx") ?? []).filter {
            $0.contains(".lifeboat-old") || $0.contains(".lifeboat-restore-")
        }
    }

    /// The events of the state database, as `lifeboat events --json` gives them.
    func events() throws -> [[String: Any]] {
        let result = try lifeboat("events", "--json")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    }
}

enum LocalPath {
    static func parent(_ path: String) -> String { (path as NSString).deletingLastPathComponent }
}
