import Foundation
import Testing

/// The binary, driven as an operator would, on the demo installation.
@Suite struct BackupRestoreTests {
    @Test func demoRunsAndMatches() throws {
        let dir = NSTemporaryDirectory() + "lifeboat-demo-test-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Harness.lifeboat("demo", "--dir", dir)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdout.contains("Everything matched"))
        #expect(result.stdout.contains("cdr: integrity ok"))
        #expect(result.stdout.contains("age -d -i"))
    }

    @Test func stockToolsOpenTheArchiveAndCheckEveryFile() throws {
        let f = try DemoFixture()
        let archive = try #require(try f.archives().first)
        let out = f.dir + "/by-hand"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let result = try Harness.shell(
            "age -d -i '\(f.key)' '\(archive)' | tar --zstd -xf - -C '\(out)' && cd '\(out)' && sha256sum -c --quiet lifeboat/SHA256SUMS")
        #expect(result.status == 0, "\(result.output)")
        let manifest = try String(contentsOfFile: out + "/lifeboat/manifest.json", encoding: .utf8)
        #expect(manifest.contains("\"consistency\" : \"sqlite-online-backup\""))
        // The restored astdb opens and passes its integrity check with the stock sqlite3 tool.
        let check = try Harness.run("sqlite3", [out + "/components/astdb/astdb.sqlite3", "PRAGMA integrity_check"])
        #expect(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }

    @Test func archiveOnDiskHasNoPlaintext() throws {
        let f = try DemoFixture()
        let archive = try #require(try f.archives().first)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        #expect(bytes.starts(with: Data("age-encryption.org/v1\n".utf8)))
        #expect(bytes.range(of: Data("pjsip".utf8)) == nil)
        #expect(bytes.range(of: Data("manifest".utf8)) == nil)
        // The sidecar holds no file names.
        let sidecar = try String(contentsOfFile: try #require(try f.sidecars().first), encoding: .utf8)
        #expect(!sidecar.contains("pjsip") && !sidecar.contains("voicemail/default"))
    }

    @Test func snapshotsJSONHasTheContractFields() throws {
        let f = try DemoFixture()
        #expect(try f.lifeboat("backup").status == 0)
        let list = try f.snapshotsJSON()
        #expect(list.count == 2)
        for item in list {
            for key in ["id", "store", "job", "host", "created", "archive", "size", "sha256", "firmware_version"] {
                #expect(item[key] != nil, "missing \(key)")
            }
            #expect(item["firmware_version"] as? String == "20.11.1-lifeboat-demo")
            #expect((item["created"] as? String)?.hasSuffix("Z") == true)
        }
        let filtered = try f.lifeboat("snapshots", "--json", "--host", "another-pbx")
        #expect(filtered.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || filtered.stdout.contains("[]"))
    }

    @Test func restoreOneComponentAndDryRun() throws {
        let f = try DemoFixture()
        let dry = try f.lifeboat("restore", "--latest", "--dry-run", "--component", "astdb", "--target", f.dir + "/dry")
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.stdout.contains("components/astdb/astdb.sqlite3"))
        #expect(!fileExists(f.dir + "/dry"))

        let target = f.dir + "/only-config"
        let result = try f.lifeboat("restore", "--latest", "--component", "config", "--target", target)
        #expect(result.status == 0, "\(result.output)")
        let restored = try f.files(in: target)
        #expect(restored.contains { $0.hasSuffix("/etc/asterisk/pjsip.conf") })
        #expect(!restored.contains { $0.contains("/components/astdb/") || $0.contains("/components/voicemail/") })

        let unknown = try f.lifeboat("restore", "--latest", "--component", "nope", "--target", f.dir + "/x")
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no component 'nope'"))
        #expect(!fileExists(f.dir + "/x"))
    }

    @Test func restoreRefusesANonEmptyTarget() throws {
        let f = try DemoFixture()
        let target = f.dir + "/busy"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try "keep me".write(toFile: target + "/precious.txt", atomically: true, encoding: .utf8)
        let result = try f.lifeboat("restore", "--latest", "--target", target)
        #expect(result.status != 0)
        #expect(result.stderr.contains("not empty"))
        #expect(try f.files(in: target) == [target + "/precious.txt"])
    }

    @Test func restoreAnArchiveFileWithoutConfiguration() throws {
        let f = try DemoFixture()
        let archive = try #require(try f.archives().first)
        let copy = f.dir + "/downloaded.tar.zst.age"
        try FileManager.default.copyItem(atPath: archive, toPath: copy)
        let target = f.dir + "/from-file"
        let result = try Harness.lifeboat(
            ["restore", copy, "--identity", f.key, "--target", target, "--config", f.dir + "/no-such-config.yaml"])
        #expect(result.status == 0, "\(result.output)")
        #expect(fileExists(target + "/components/cdr/cdr.sqlite3"))
    }

    @Test func keysInteroperateWithAgeKeygen() throws {
        let f = try DemoFixture()
        // A lifeboat key gives its public key to age-keygen -y.
        let ours = f.dir + "/ours.key"
        let made = try Harness.lifeboat("keygen", "--output", ours)
        #expect(made.status == 0)
        let pub = try Harness.run("age-keygen", ["-y", ours])
        #expect(made.stdout.contains(pub.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try Harness.lifeboat("keygen", "--output", ours).status == 64, "never overwrites a key")
        let mode = try FileManager.default.attributesOfItem(atPath: ours)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // An age-keygen key works as Lifeboat's identity and recipient.
        let theirs = f.dir + "/theirs.key"
        #expect(try Harness.run("age-keygen", ["-o", theirs]).status == 0)
        let recipient = try Harness.run("age-keygen", ["-y", theirs]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try f.editConfig {
            $0.replacingOccurrences(of: #"recipients: \["age1[a-z0-9]+"\]"#, with: "recipients: [\"\(recipient)\"]", options: .regularExpression)
                .replacingOccurrences(of: "identity_file: \(f.key)", with: "identity_file: \(theirs)")
        }
        #expect(try f.lifeboat("backup").status == 0)
        let result = try f.lifeboat("verify", "--latest", "--deep")
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func prunesByRetentionAndKeepsTheNewest() throws {
        let f = try DemoFixture()
        try f.editConfig { $0.replacingOccurrences(of: "retention: {keep_last: 7, keep_daily: 14}", with: "retention: {keep_last: 50}") }
        for _ in 0..<3 { #expect(try f.lifeboat("backup").status == 0) }
        #expect(try f.snapshotsJSON().count == 4)
        try f.editConfig { $0.replacingOccurrences(of: "retention: {keep_last: 50}", with: "retention: {keep_last: 2}") }
        let dry = try f.lifeboat("prune", "--dry-run")
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.stdout.components(separatedBy: "would delete").count - 1 == 2)
        #expect(try f.snapshotsJSON().count == 4, "a dry run deletes nothing")
        let newest = try f.snapshotsJSON().max { ($0["created"] as! String, $0["id"] as! String) < ($1["created"] as! String, $1["id"] as! String) }
        let real = try f.lifeboat("prune")
        #expect(real.status == 0, "\(real.output)")
        let left = try f.snapshotsJSON()
        #expect(left.count == 2)
        #expect(left.contains { $0["id"] as? String == newest?["id"] as? String })
        #expect(try f.archives().count == 2, "archives of pruned snapshots are gone too")

        // A backup applies retention itself after its snapshot is committed.
        #expect(try f.lifeboat("backup").status == 0)
        #expect(try f.snapshotsJSON().count == 2)
    }

    @Test func oneArchiveGoesToEveryStoreAndAFailingStoreMakesThePartial() throws {
        let f = try DemoFixture()
        let second = f.dir + "/second-store"
        try FileManager.default.createDirectory(atPath: second, withIntermediateDirectories: true)
        try f.editConfig {
            $0.replacingOccurrences(of: "stores:\n", with: "stores:\n  - {name: nas, kind: local, path: \(second), prefix: pbx-backups}\n  - {name: gone, kind: local, path: \(f.dir)/unmounted}\n")
                .replacingOccurrences(of: "stores: [local]}", with: "stores: [local, nas, gone]}")
        }
        let result = try f.lifeboat("backup", "--json")
        #expect(result.status == 2, "\(result.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["status"] as? String == "partial")
        let stores = try #require(json["stores"] as? [[String: Any]])
        #expect(stores.map { $0["ok"] as? Bool } == [true, true, false])
        #expect((stores[2]["error"] as? String)?.contains("does not exist") == true)
        #expect(!fileExists(f.dir + "/unmounted"), "a missing store root is never created")
        // The same bytes on both good stores, under the nas store's prefix there.
        let name = try #require(json["archive"] as? String)
        let a = try Data(contentsOf: URL(fileURLWithPath: f.store + "/" + name))
        let b = try Data(contentsOf: URL(fileURLWithPath: second + "/pbx-backups/" + name))
        #expect(a == b)
        let list = try f.lifeboat("snapshots", "--json", "--store", "nas")
        #expect(list.stdout.contains(json["snapshot"] as! String))
        #expect(try f.lifeboat("backup", "--store", "nas").status == 0)
    }

    @Test func usageErrorsExit64() throws {
        let f = try DemoFixture()
        let unknownJob = try f.lifeboat("backup", "--job", "weekly")
        #expect(unknownJob.status == 64)
        #expect(unknownJob.stderr.contains("no job named 'weekly'"))
        let unknownStore = try f.lifeboat("snapshots", "--store", "s3")
        #expect(unknownStore.status == 64)
        let missing = try Harness.lifeboat("snapshots", "--config", f.dir + "/missing.yaml")
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("does not exist"))
    }
}
