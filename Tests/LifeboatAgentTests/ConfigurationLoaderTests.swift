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

    static let sharePoint = """
        stores:
          - name: sp
            kind: sharepoint
            tenant_id: contoso.onmicrosoft.com
            client_id: {secret_env: SP_CLIENT}
            client_secret: {secret_env: SP_SECRET}
            site: "contoso.sharepoint.com:/sites/it"
            drive_name: PBX Archive
            folder: /PBX Backups/pbx7/
            chunk_size: 5MiB
            graph_url: "https://graph.microsoft.us/v1.0"
            login_url: "https://login.microsoftonline.us"

        """

    @Test func readsASharePointStore() throws {
        let yaml = base.replacingOccurrences(of: "stores:\n", with: Self.sharePoint)
        let c = try load(yaml, environment: ["SP_CLIENT": "app-id", "SP_SECRET": "sp-secret-value"])
        guard case .sharepoint(let sp) = c.stores[0].kind else {
            Issue.record("not a sharepoint store: \(c.stores[0].kind)")
            return
        }
        #expect(sp.tenantID == "contoso.onmicrosoft.com" && sp.clientID == "app-id")
        guard case .secret(let secret) = sp.credential else {
            Issue.record("not a client secret")
            return
        }
        #expect(secret.reveal() == "sp-secret-value")
        #expect(sp.site == "contoso.sharepoint.com:/sites/it" && sp.driveName == "PBX Archive" && sp.driveID == nil)
        #expect(sp.folder == "PBX Backups/pbx7")
        #expect(sp.chunkSize == 5 << 20)
        #expect(sp.graphURL.absoluteString == "https://graph.microsoft.us/v1.0")
        #expect(sp.loginURL.absoluteString == "https://login.microsoftonline.us")
        #expect(!"\(c)".contains("sp-secret-value"))
        #expect(!String(reflecting: c).contains("sp-secret-value"))
        // The composition root spools large uploads under state_dir.
        let store = try Agent(configuration: c, logger: .init(label: "t")).makeStore(c.stores[0])
        #expect("\(store)".contains("contoso.sharepoint.com:/sites/it"))
    }

    @Test func aMalformedSharePointKeyIsNamedWithItsLine() throws {
        let environment = ["SP_CLIENT": "app-id", "SP_SECRET": "x"]
        let cases = [
            ("chunk_size: 5MiB", "chunk_size: 1MiB", "lifeboat.yaml:19: stores[0].chunk_size: chunk_size must be a positive multiple of 320 KiB"),
            ("chunk_size: 5MiB", "chunk_size: 61MiB", "lifeboat.yaml:19: stores[0].chunk_size: must be at most 62914560 bytes"),
            ("site: \"contoso.sharepoint.com:/sites/it\"", "site: contoso.sharepoint.com", "lifeboat.yaml:16: stores[0].site: site must be HOSTNAME:/PATH"),
            ("drive_name: PBX Archive", "drive_nmae: PBX Archive", "lifeboat.yaml:17: stores[0].drive_nmae: unknown key (did you mean 'drive_name'?)"),
            ("drive_name: PBX Archive", "drive_name: PBX Archive\n    drive_id: b!x", "lifeboat.yaml:17: stores[0].drive_name: give drive_id or drive_name, not both"),
            ("graph_url: \"https://graph.microsoft.us/v1.0\"", "graph_url: \"http://graph.example/v1.0\"", "lifeboat.yaml:20: stores[0].graph_url: graph_url http://graph.example/v1.0 is plain http"),
            ("client_secret: {secret_env: SP_SECRET}", "client_certificate_key_file: /etc/hostname", "lifeboat.yaml:15: stores[0].client_certificate_key_file: client_certificate_key_file belongs to client_certificate_file"),
            ("client_secret: {secret_env: SP_SECRET}", "client_certificate_file: /etc/hostname", "lifeboat.yaml:15: stores[0].client_certificate_file: /etc/hostname is readable by group or others"),
        ]
        for (from, to, expected) in cases {
            let yaml = base.replacingOccurrences(of: "stores:\n", with: Self.sharePoint.replacingOccurrences(of: from, with: to))
            #expect {
                try load(yaml, environment: environment)
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
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

    static let notifications = """
        notifications:
          smtp: {host: mail.example.com, port: 587, security: starttls, username: pbx, password: {secret_env: SMTP_PASS}, from: "PBX <pbx@example.com>"}
          ami: {username: lifeboat, secret: {secret_env: AMI_SECRET}, context: from-internal, outbound_context: trunk-out}
          group_wait: 45s
          repeat_interval: 2h
          rate_limit: 5/30m
          max_delivery_age: 12h
          templates:
            backup.failed: {subject: "Backup {{attr.job}} failed on {{host}}", body: "{{message}}"}
            default: {subject: "[{{level}}] {{type}}"}
          contacts:
            - {name: ops, levels: [warning, alert], events: ["*"], methods: [email, call_extension], email: ops@example.com, extension: "1001"}
            - name: chat
              levels: [alert]
              events: ["pbx.*", backup.failed]
              methods: [webhook, call_mobile]
              mobile: "+4915100000000"
              webhook: {url: "https://hooks.example.com/lifeboat", secret: {secret_env: HOOK_SECRET}, headers: {X-Team: pbx}}

        """
    let secrets = ["SMTP_PASS": "p", "AMI_SECRET": "a", "HOOK_SECRET": "h"]

    @Test func readsTheNotificationsSection() throws {
        let c = try load(base + Self.notifications, environment: secrets)
        let n = try #require(c.notifications)
        #expect(n.smtp?.host == "mail.example.com" && n.smtp?.security == .starttls && n.smtp?.from.address == "pbx@example.com")
        #expect(n.ami?.outboundContext == "trunk-out")
        #expect(n.policy.groupWait == 45 && n.policy.repeatInterval == 7200 && n.policy.maxDeliveryAge == 43_200)
        #expect(n.policy.rateLimit == 5 && n.policy.ratePeriod == 1800)
        #expect(n.templates.template(for: "backup.failed").subject == "Backup {{attr.job}} failed on {{host}}")
        #expect(n.templates.fallback.subject == "[{{level}}] {{type}}")
        #expect(n.contacts.map(\.name) == ["ops", "chat"])
        #expect(n.contacts[0].methods == [.email, .callExtension])
        #expect(n.contacts[1].levels == [.alert] && n.contacts[1].events == ["pbx.*", "backup.failed"])
        #expect(n.contacts[1].webhook?.headers == ["X-Team": "pbx"])
    }

    @Test func aBadNotificationsKeyIsNamedWithItsLine() throws {
        // The base configuration has 17 lines: `notifications:` is line 18.
        let cases: [(String, String, String)] = [
            ("methods: [email, call_extension], email: ops@example.com", "methods: [email, call_extension]",
                "lifeboat.yaml:29: notifications.contacts[0].methods[0]: method email needs email"),
            ("  ami: {username: lifeboat, secret: {secret_env: AMI_SECRET}, context: from-internal, outbound_context: trunk-out}\n", "",
                "notifications.contacts[0].methods[1]: method call_extension needs notifications.ami"),
            ("levels: [warning, alert]", "levels: [warning, critical]", "unknown level 'critical'"),
            ("methods: [webhook, call_mobile]", "methods: [webhook, sms]", "unknown method 'sms'"),
            ("rate_limit: 5/30m", "rate_limit: lots", "lifeboat.yaml:23: notifications.rate_limit: expected COUNT/PERIOD"),
            ("group_wait: 45s", "group_wait: soon", "lifeboat.yaml:21: notifications.group_wait: expected a duration"),
            ("url: \"https://hooks.example.com/lifeboat\"", "url: \"http://hooks.example.com/lifeboat\"", "is plain http"),
            ("security: starttls", "security: none", "security: none sends the password"),
            ("{{attr.job}}", "{{colour}}", "unknown placeholders: {{colour}}"),
            ("from: \"PBX <pbx@example.com>\"", "from: \"PBX\\r\\nBcc: x@example.com <pbx@example.com>\"",
                "lifeboat.yaml:19: notifications.smtp.from: contains a line break or control character"),
            ("outbound_context: trunk-out", "outbound_context: \"trunk\\nAction: Command\"", "contains a line break"),
            ("extension: \"1001\"", "extension: \"10 01\"", "'10 01' is not an extension"),
            ("name: chat", "name: ops", "a contact named 'ops' is defined twice"),
        ]
        for (from, to, expected) in cases {
            let yaml = base + Self.notifications.replacingOccurrences(of: from, with: to)
            #expect(yaml != base + Self.notifications, "\(from) not in the fixture")
            #expect {
                try load(yaml, environment: secrets)
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
    }
}
