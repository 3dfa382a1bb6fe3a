import Foundation
import LifeboatCore
import Testing

@testable import LifeboatAgent

@Suite struct ConfigurationLoaderTests {
    func load(_ yaml: String, environment: [String: String] = [:], mode: Int = 0o600) throws -> Configuration {
        let dir = NSTemporaryDirectory() + "lifeboat-agent-test-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/lifeboat.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode_t(mode))
        return try Configuration.load(path: path, environment: environment)
    }

    let base = """
        host: pbx7
        state_dir: /var/lib/lb
        pbx: {product: freepbx, firmware_version_command: [/bin/echo, "16.0.1"]}
        encryption:
          recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
          compression: {algorithm: gzip, level: 9, threads: 1}
        sources:
          - {name: astdb, kind: sqlite, path: /var/lib/asterisk/astdb.sqlite3}
          - {name: config, kind: files, paths: [/etc/asterisk, /etc/dahdi], include: ["*.conf"], exclude: [tmp/*]}
        stores:
          - name: nas
            kind: local
            path: /mnt/nas
            prefix: pbx
            retention: {keep_last: 3, keep_within: 2w, max_count: 10, max_age_days: 90}
        jobs:
          - {name: nightly, schedule: "0 3 * * *", timezone: Europe/Berlin, sources: [astdb, config], stores: [nas], stale_after: 36h}

        """

    @Test func readsEveryKey() throws {
        let c = try load(base)
        #expect(c.host == "pbx7")
        #expect(c.stateDirectory == "/var/lib/lb")
        #expect(c.pbx.product == "freepbx")
        #expect(c.pbx.firmwareVersionCommand == ["/bin/echo", "16.0.1"])
        #expect(c.encryption?.recipients.count == 1)
        #expect(c.compression.algorithm == .gzip && c.compression.level == 9 && c.compression.threads == 1)
        #expect(c.sources.count == 2)
        #expect(c.sources[1].kind == .files(paths: ["/etc/asterisk", "/etc/dahdi"], include: ["*.conf"], exclude: ["tmp/*"]))
        #expect(c.stores[0].prefix == "pbx")
        #expect(c.stores[0].retention == RetentionPolicy(keepLast: 3, keepWithin: 1_209_600, maxCount: 10, maxAgeDays: 90))
        #expect(c.jobs[0].staleAfter == 129_600)
        #expect(c.jobs[0].timezone == "Europe/Berlin")
        let agent = Agent(configuration: c, logger: .init(label: "t"))
        #expect(agent.firmwareVersion() == "16.0.1")
        #expect(agent.plan(for: c.jobs[0]).archiveExtension == ".tar.gz.age")
    }

    @Test func encryptionNoneIsExplicit() throws {
        let c = try load(base.replacingOccurrences(
            of: "encryption:\n  recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]\n  compression: {algorithm: gzip, level: 9, threads: 1}",
            with: "encryption: none"))
        #expect(c.encryption == nil)
        #expect(c.compression.algorithm == .zstd && c.compression.level == 3)
        let agent = Agent(configuration: c, logger: .init(label: "t"))
        #expect(agent.plan(for: c.jobs[0]).archiveExtension == ".tar.zst")
    }

    @Test func secretFromTheEnvironmentIsNeverPrinted() throws {
        let yaml = base.replacingOccurrences(
            of: "recipients: [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]",
            with: "passphrase: {secret_env: PBX_PASS}")
        let c = try load(yaml, environment: ["PBX_PASS": "s3cret-value"])
        #expect(c.encryption?.passphrase?.reveal() == "s3cret-value")
        #expect(!"\(c)".contains("s3cret-value"))
        #expect(!String(reflecting: c).contains("s3cret-value"))
    }

    @Test func passphraseAndRecipientsTogetherAreRefused() throws {
        let yaml = base.replacingOccurrences(
            of: "  compression: {algorithm: gzip, level: 9, threads: 1}", with: "  passphrase: {secret_env: PBX_PASS}")
        #expect {
            try load(yaml, environment: ["PBX_PASS": "x"])
        } throws: { error in
            "\(error)".contains("lifeboat.yaml:4: encryption: age allows a passphrase only as the sole recipient")
        }
    }
}
