import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `lifeboat firmware check|status` against feeds signed with the real `minisign` CLI and served over
/// HTTPS by a local server: the verdicts, the events, and the highest version remembered across checks.
@Suite(.serialized) struct FirmwareCheckTests {
    final class Installation {
        let dir = NSTemporaryDirectory() + "lifeboat-fw-" + UUID().uuidString.prefix(8)
        let server: FirmwareTestServer
        let key: MinisignCLIKey
        var config: String { dir + "/lifeboat.yaml" }
        var versionFile: String { dir + "/version" }

        init() throws {
            server = try FirmwareTestServer()
            key = try MinisignCLIKey()
            try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
            try "37.12.0.30\n".write(toFile: versionFile, atomically: true, encoding: .utf8)
            try writeConfig(publicKey: try key.publicKeyLine())
        }

        deinit {
            key.remove()
            try? FileManager.default.removeItem(atPath: dir)
        }

        func writeConfig(publicKey: String, mode: String = "notify") throws {
            let text = """
                host: pbx1
                state_dir: \(dir)/state
                pbx: {product: asterisk-pbx, firmware_version_file: \(versionFile)}
                encryption: none
                sources: [{name: data, kind: files, path: \(dir)/data}]
                stores: [{name: local, kind: local, path: \(dir)/store}]
                jobs: [{name: nightly, sources: [data], stores: [local]}]
                firmware:
                  feed_url: \(server.url("stable.json"))
                  public_key: \(publicKey)
                  channel: stable
                  ca_file: \(server.caFile)
                  max_feed_age: 30d
                  mode: \(mode)
                  check_schedule: "0 3 * * *"
                  timezone: Europe/Berlin

                """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            chmod(config, 0o600)
        }

        /// Publishes a feed offering `versions` (newest last), signed by `signer`.
        func publish(_ versions: [String], expires: Date = Date().addingTimeInterval(20 * 86_400), signer: MinisignCLIKey? = nil,
            tamper: Bool = false) throws
        {
            let releases = versions.map { version in
                #"{"version": "\#(version)", "url": "\#(server.url("pbx-\(version).img"))", "size": 1048576, "sha256": "\#(String(repeating: "ab", count: 32))", "notes": "Fixes."}"#
            }
            let feed = """
                {"product": "asterisk-pbx", "channel": "stable", "issued": "\(iso(Date().addingTimeInterval(-3600)))",
                 "expires": "\(iso(expires))", "releases": [\(releases.joined(separator: ", "))]}
                """
            var bytes = Array(feed.utf8)
            let signature = try (signer ?? key).sign(bytes)
            if tamper, let index = bytes.firstIndex(of: UInt8(ascii: "3")) { bytes[index] = UInt8(ascii: "4") }
            try server.put("stable.json", bytes)
            try server.put("stable.json.minisig", Array(signature.utf8))
        }

        func iso(_ date: Date) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(from: date)
        }

        func check() throws -> (status: Int32, json: [String: Any]) {
            let result = try Harness.lifeboat("firmware", "check", "--json", "--config", config)
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return (result.status, try #require(object, "\(result.output)"))
        }

        func events(_ type: String) throws -> [[String: Any]] {
            let result = try Harness.lifeboat("events", "--json", "--type", type, "--config", config)
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        }
    }

    @Test func aSignedFeedIsCheckedAndEveryBadOneIsRefusedWithItsReason() throws {
        let install = try Installation()
        // Up to date: the feed's newest is the running version.
        try install.publish(["37.12.0.30"])
        var (status, json) = try install.check()
        #expect(status == 0 && json["status"] as? String == "up-to-date", "\(json)")
        #expect(json["current"] as? String == "37.12.0.30")

        // A new release: available, announced once however often it is checked.
        try install.publish(["37.12.0.30", "37.12.0.44"])
        (status, json) = try install.check()
        #expect(status == 0 && json["status"] as? String == "available", "\(json)")
        #expect(json["available"] as? String == "37.12.0.44")
        _ = try install.check()
        let announced = try install.events("firmware.available")
        #expect(announced.count == 1)
        #expect((announced.first?["attributes"] as? [String: String])?["version"] == "37.12.0.44")
        #expect(announced.first?["level"] as? String == "warning")

        // Refused, each with a reason, and each a firmware.refused event.
        let stranger = try MinisignCLIKey()
        defer { stranger.remove() }
        let cases: [(String, () throws -> Void, String)] = [
            ("tampered", { try install.publish(["37.12.0.30", "37.12.0.44"], tamper: true) }, "signature"),
            ("other key", { try install.publish(["37.12.0.30", "37.12.0.44"], signer: stranger) }, "key"),
            ("expired", { try install.publish(["37.12.0.44"], expires: Date().addingTimeInterval(-60)) }, "expired"),
            ("rollback", { try install.publish(["37.12.0.30", "37.12.0.40"]) }, "37.12.0.44"),
        ]
        for (name, publish, reason) in cases {
            try publish()
            (status, json) = try install.check()
            #expect(status == 1, "\(name): \(json)")
            #expect(json["status"] as? String == "refused", "\(name): \(json)")
            #expect((json["reason"] as? String)?.contains(reason) == true, "\(name): \(json["reason"] ?? "")")
        }
        #expect(try install.events("firmware.refused").count == cases.count)
        // The highest version seen survives: the rollback stays refused, and status shows it.
        let statusJSON = try Harness.lifeboat("firmware", "status", "--json", "--config", install.config)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(statusJSON.stdout.utf8)) as? [String: Any])
        #expect(object["highest_seen"] as? String == "37.12.0.44")
        #expect((object["last_check"] as? [String: Any])?["status"] as? String == "refused")
        #expect(object["next_check"] is String)

        // Unreachable (the signature is missing): a temporary failure, not a verdict.
        try install.publish(["37.12.0.30", "37.12.0.44"])
        install.server.remove("stable.json.minisig")
        (status, json) = try install.check()
        #expect(status == 75 && json["status"] as? String == "error", "\(json)")
        #expect((json["reason"] as? String)?.contains("stable.json.minisig") == true, "\(json)")
    }

    @Test func aMalformedFirmwareSectionIsNamedWithItsLine() throws {
        let install = try Installation()
        try install.writeConfig(publicKey: "RWnotakey")
        var result = try Harness.lifeboat("config", "check", "--config", install.config)
        #expect(result.status == 64)
        #expect(result.output.contains("lifeboat.yaml:10: firmware.public_key: not a minisign public key"), "\(result.output)")
        try install.writeConfig(publicKey: try install.key.publicKeyLine(), mode: "install")
        result = try Harness.lifeboat("config", "check", "--config", install.config)
        #expect(result.status == 64)
        #expect(result.output.contains("lifeboat.yaml:8: firmware: mode: install needs 'window'"), "\(result.output)")
    }
}
