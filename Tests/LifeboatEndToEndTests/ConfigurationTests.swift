import Foundation
import Testing

/// `lifeboat config check` on malformed configurations: exit 64, and the message names the file,
/// the key path and the line.
@Suite struct ConfigurationTests {
    static let valid = """
        host: pbx1
        state_dir: STATE
        encryption:
          recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
        sources:
          - {name: astdb, kind: sqlite, path: /var/lib/asterisk/astdb.sqlite3}
          - {name: config, kind: files, path: /etc/asterisk}
        stores:
          - {name: local, kind: local, path: /var/backups/lifeboat, retention: {keep_last: 7}}
        jobs:
          - {name: nightly, schedule: "30 2 * * *", sources: [astdb, config], stores: [local]}

        """

    /// (what is wrong, a replacement of the valid text, expected fragment of the message)
    static let cases: [(String, String, String, String)] = [
        ("unknown top-level key", "state_dir: STATE", "state_dir: STATE\nstate_dri: /x", "lifeboat.yaml:3: state_dri: unknown key (did you mean 'state_dir'?)"),
        ("unknown store key", "retention: {keep_last: 7}", "retention: {keep_lats: 7}", "lifeboat.yaml:9: stores[0].retention.keep_lats: unknown key"),
        ("wrong type", "keep_last: 7", "keep_last: seven", "lifeboat.yaml:9: stores[0].retention.keep_last: expected a whole number"),
        ("bad recipient", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", "age1notakey", "lifeboat.yaml:4: encryption.recipients[0]: not an age X25519 recipient"),
        ("unknown source in job", "sources: [astdb, config]", "sources: [astdb, cofnig]", "lifeboat.yaml:11: jobs[0].sources[1]: no source named 'cofnig'"),
        ("unknown store in job", "stores: [local]}", "stores: [nas]}", "jobs[0].stores[0]: no store named 'nas'"),
        ("bad cron field", "schedule: \"30 2 * * *\"", "schedule: \"30 25 * * *\"", "jobs[0].schedule: "),
        ("unknown source kind", "kind: sqlite,", "kind: sqlite3,", "lifeboat.yaml:6: sources[0].kind: unknown source kind 'sqlite3'"),
        ("relative path", "path: /etc/asterisk}", "path: etc/asterisk}", "lifeboat.yaml:7: sources[1].path: 'etc/asterisk' must be an absolute path"),
        ("duplicate name", "{name: config, kind: files", "{name: astdb, kind: files", "lifeboat.yaml:7: sources[1]: a source named 'astdb' is defined twice"),
        ("bad YAML", "jobs:\n", "jobs:\n  - {name: [\n", "not valid YAML"),
        ("no encryption", "encryption:\n  recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]\n", "", "encryption: missing: give recipients"),
        ("missing key", "{name: local, kind: local, path: /var/backups/lifeboat, ", "{name: local, kind: local, ", "lifeboat.yaml:9: stores[0]: missing key 'path'"),
        ("bad duration", "schedule: \"30 2 * * *\",", "schedule: \"30 2 * * *\", stale_after: soon,", "jobs[0].stale_after: expected a duration"),
        ("bad drill schedule", "schedule: \"30 2 * * *\",", "schedule: \"30 2 * * *\", drill: {schedule: \"0 5 * * sunday\"},", "lifeboat.yaml:11: jobs[0].drill.schedule: "),
        ("hook without a vector", "schedule: \"30 2 * * *\",", "schedule: \"30 2 * * *\", pre_backup: \"fwconsole stop\",", "lifeboat.yaml:11: jobs[0].pre_backup: expected an argument vector"),
        ("notifications without contacts", "jobs:\n", "notifications: {group_wait: 30s}\njobs:\n", "lifeboat.yaml:10: notifications: no contact is defined"),
        ("api on a public address", "jobs:\n", "api: {listen: \"0.0.0.0:8640\", token: {secret_env: HOME}}\njobs:\n", "lifeboat.yaml:10: api.listen: the API listens on the loopback interface only"),
        ("api token too short", "jobs:\n", "api: {listen: \"127.0.0.1:8640\", token: {secret_env: HOME}}\njobs:\n", "api.token: the API token is too short"),
        ("jitter without a schedule", "schedule: \"30 2 * * *\",", "jitter: 5m,", "jobs[0].jitter: jitter needs a schedule"),
        ("bad shutdown grace", "jobs:\n", "shutdown_grace: forever\njobs:\n", "lifeboat.yaml:10: shutdown_grace: expected a duration"),
        (
            "s3 over plain http", "{name: local, kind: local,",
            "{name: s3, kind: s3, endpoint: \"http://127.0.0.1:9\", bucket: b, access_key_id: k, secret_access_key: {secret_env: HOME}}\n  - {name: local, kind: local,",
            "stores[0].endpoint: plain http exposes"
        ),
        (
            "s3 part size under 5 MiB", "{name: local, kind: local,",
            "{name: s3, kind: s3, endpoint: \"https://s3.example.com\", bucket: b, access_key_id: k, secret_access_key: {secret_env: HOME}, part_size: 1MiB}\n  - {name: local, kind: local,",
            "stores[0].part_size: must be at least 5242880 bytes, not '1MiB'"
        ),
        (
            "gcs credentials readable by others", "{name: local, kind: local,",
            "{name: g, kind: gcs, bucket: b, credentials_file: /etc/hostname, chunk_size: 300KiB}\n  - {name: local, kind: local,",
            "stores[0].credentials_file:"
        ),
        (
            "sharepoint chunk size not a multiple of 320 KiB", "{name: local, kind: local,",
            "{name: sp, kind: sharepoint, tenant_id: t, client_id: c, client_secret: {secret_env: HOME},\n     site: \"contoso.sharepoint.com:/sites/it\", chunk_size: 1MiB}\n  - {name: local, kind: local,",
            "lifeboat.yaml:10: stores[0].chunk_size: chunk_size must be a positive multiple of 320 KiB"
        ),
        (
            "sharepoint site without a path", "{name: local, kind: local,",
            "{name: sp, kind: sharepoint, tenant_id: t, client_id: c, client_secret: {secret_env: HOME},\n     site: contoso.sharepoint.com/sites/it}\n  - {name: local, kind: local,",
            "lifeboat.yaml:10: stores[0].site: site must be HOSTNAME:/PATH"
        ),
        (
            "sharepoint misspelled key", "{name: local, kind: local,",
            "{name: sp, kind: sharepoint, tenant_id: t, client_id: c, client_secert: {secret_env: HOME},\n     site: \"contoso.sharepoint.com:/sites/it\"}\n  - {name: local, kind: local,",
            "lifeboat.yaml:9: stores[0].client_secert: unknown key (did you mean 'client_secret'?)"
        ),
        ("secret env unset", "recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]", "passphrase: {secret_env: LIFEBOAT_TEST_UNSET_VARIABLE}", "lifeboat.yaml:4: encryption.passphrase.secret_env: the environment variable LIFEBOAT_TEST_UNSET_VARIABLE is not set"),
        ("compression level", "recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]", "recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]\n  compression: {algorithm: zstd, level: 42}", "lifeboat.yaml:5: encryption.compression.level: must be at most 19"),
    ]

    func write(_ text: String, mode: Int = 0o600) throws -> (dir: String, path: String) {
        let dir = NSTemporaryDirectory() + "lifeboat-config-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/lifeboat.yaml"
        try text.replacingOccurrences(of: "STATE", with: dir + "/state").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode_t(mode))
        return (dir, path)
    }

    @Test func theValidConfigurationLoads() throws {
        let (dir, path) = try write(Self.valid)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Harness.lifeboat("config", "check", "--config", path)
        // The sources do not exist on a test machine: a warning and exit 1, but no configuration error.
        #expect(result.status == 1 || result.status == 0, "\(result.output)")
        #expect(result.stdout.contains("2 source(s), 1 store(s), 1 job(s)"))
    }

    @Test(arguments: 0..<cases.count)
    func malformedConfigurationIsRefused(index: Int) throws {
        let (what, from, to, expected) = Self.cases[index]
        #expect(Self.valid.contains(from), "case '\(what)' must change the valid text")
        let (dir, path) = try write(Self.valid.replacingOccurrences(of: from, with: to))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Harness.lifeboat("config", "check", "--config", path)
        #expect(result.status == 64, "\(what): \(result.output)")
        #expect(result.stderr.contains(expected), "\(what): got '\(result.stderr)'")
        #expect(result.stderr.contains(path), "\(what): names the file")
        // A backup with the same file is refused the same way.
        #expect(try Harness.lifeboat("backup", "--config", path).status == 64)
    }

    @Test func secretsInAWorldReadableFileAreRefused() throws {
        let secret = "hunter2-do-not-print"
        let text = Self.valid.replacingOccurrences(
            of: "recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]",
            with: "passphrase: \(secret)")
        let (dir, path) = try write(text, mode: 0o644)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let open = try Harness.lifeboat("config", "check", "--config", path)
        #expect(open.status == 64)
        #expect(open.stderr.contains("encryption.passphrase: a secret written in the configuration needs a file that others cannot read"))
        #expect(!open.output.contains(secret))

        let secretFile = dir + "/pass"
        try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
        chmod(secretFile, 0o644)
        let (dir2, path2) = try write(text.replacingOccurrences(of: "passphrase: \(secret)", with: "passphrase: {secret_file: \(secretFile)}"))
        defer { try? FileManager.default.removeItem(atPath: dir2) }
        let readable = try Harness.lifeboat("config", "check", "--config", path2, "--json")
        #expect(readable.status == 64)
        #expect(readable.stderr.contains("is readable by group or others"))
        #expect(!readable.output.contains(secret))
        chmod(secretFile, 0o600)
        let fine = try Harness.lifeboat("config", "check", "--config", path2, "--json")
        #expect(fine.status != 64, "\(fine.output)")
        #expect(!fine.output.contains(secret))
    }
}
