import Foundation
import Testing

/// Every kind of bad input is refused with a message naming the problem, a non-zero exit, and nothing
/// written into the restore target.
@Suite struct BadInputTests {
    /// Restores the latest snapshot into a fresh target and checks the target was never created.
    func expectRefusedRestore(_ f: DemoFixture, _ extra: [String] = [], mentions words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let target = f.dir + "/target-" + UUID().uuidString.prefix(6)
        let result = try Harness.lifeboat(["restore", "--latest", "--target", target, "--config", f.config] + extra)
        #expect(result.status != 0, "restore should fail: \(result.output)", sourceLocation: sourceLocation)
        #expect(!fileExists(target), "nothing may be written into the target", sourceLocation: sourceLocation)
        let stray = try FileManager.default.contentsOfDirectory(atPath: f.dir).filter { $0.hasPrefix(".lifeboat-restore") }
        #expect(stray.isEmpty, "staging folders are removed", sourceLocation: sourceLocation)
        let text = result.stderr.lowercased()
        #expect(words.contains { text.contains($0.lowercased()) }, "message '\(result.stderr)' should mention one of \(words)", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["header", "stanza", "mac", "first-chunk", "middle", "last-chunk", "last-byte"])
    func flippedByteIsRefused(position: String) throws {
        let f = try DemoFixture()
        let archive = try #require(try f.archives().first)
        let size = try fileSize(archive)
        let data = try Data(contentsOf: URL(fileURLWithPath: archive))
        let headerEnd = data.range(of: Data("\n---".utf8))!.lowerBound
        let offset: Int =
            switch position {
            case "header": 3
            case "stanza": 30
            case "mac": headerEnd + 10
            case "first-chunk": headerEnd + 80
            case "middle": size / 2
            case "last-chunk": size - 200
            default: size - 1
            }
        try flipByte(in: archive, at: offset)
        try expectRefusedRestore(f, mentions: ["sha-256", "header", "mac", "corrupt", "authentic", "tag", "payload", "invalid", "stanza", "damaged"])
        let raw = f.dir + "/raw-restore"
        let direct = try Harness.lifeboat(["restore", archive, "--identity", f.key, "--target", raw, "--config", f.dir + "/none.yaml"])
        #expect(direct.status != 0, "without a sidecar too: \(direct.output)")
        #expect(!fileExists(raw))
        let verify = try f.lifeboat("verify")
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("FAILED"))
    }

    @Test(arguments: [0.0, 0.02, 0.5, 0.999])
    func truncatedArchiveIsRefused(fraction: Double) throws {
        let f = try DemoFixture()
        let archive = try #require(try f.archives().first)
        let size = try fileSize(archive)
        try truncate(archive, to: Int(Double(size) * fraction))
        try expectRefusedRestore(f, mentions: ["bytes", "sha-256", "truncated", "header", "empty", "damaged"])
        let raw = f.dir + "/raw"
        let direct = try Harness.lifeboat(["restore", archive, "--identity", f.key, "--target", raw, "--config", f.dir + "/none.yaml"])
        #expect(direct.status != 0)
        #expect(!fileExists(raw))
    }

    @Test func truncatedAtAChunkBoundaryIsRefused() throws {
        let f = try DemoFixture()
        let archive = try #require(try f.archives().first)
        let data = try Data(contentsOf: URL(fileURLWithPath: archive))
        let payloadStart = data.range(of: Data("\n---".utf8))!.upperBound
        let headerEnd = data[payloadStart...].firstIndex(of: 0x0a)! + 1
        // nonce (16) + two full chunks (65536 + 16 each): a file that ends exactly between chunks.
        let cut = headerEnd + 16 + 2 * 65_552
        #expect(data.count > cut + 100)
        try data.prefix(cut).write(to: URL(fileURLWithPath: archive))
        let raw = f.dir + "/raw"
        let direct = try Harness.lifeboat(["restore", archive, "--identity", f.key, "--target", raw, "--config", f.dir + "/none.yaml"])
        #expect(direct.status != 0, "\(direct.output)")
        #expect(direct.stderr.lowercased().contains("truncated"), "\(direct.stderr)")
        #expect(!fileExists(raw))
    }

    @Test func wrongIdentityIsRefused() throws {
        let f = try DemoFixture()
        let other = f.dir + "/other.key"
        #expect(try Harness.lifeboat("keygen", "--output", other).status == 0)
        try expectRefusedRestore(f, ["--identity", other], mentions: ["identity", "no match", "recipient"])
        let deep = try f.lifeboat("verify", "--deep", "--identity", other)
        #expect(deep.status == 1)
    }

    @Test func identityFileReadableByOthersIsRefused() throws {
        let f = try DemoFixture()
        chmod(f.key, 0o644)
        try expectRefusedRestore(f, mentions: ["readable by group or others"])
    }

    @Test func wrongPassphraseIsRefused() throws {
        let f = try DemoFixture()
        let pass = f.dir + "/pass"
        try "correct horse battery staple".write(toFile: pass, atomically: true, encoding: .utf8)
        chmod(pass, 0o600)
        try f.editConfig {
            $0.replacingOccurrences(of: #"recipients: \["age1[a-z0-9]+"\]"#, with: "passphrase: {secret_file: \(pass)}\n  scrypt_work_factor: 12", options: .regularExpression)
                .replacingOccurrences(of: "  identity_file: \(f.key)\n", with: "")
        }
        let backup = try f.lifeboat("backup")
        #expect(backup.status == 0, "\(backup.output)")
        let target = f.dir + "/ok"
        #expect(try f.lifeboat("restore", "--latest", "--target", target).status == 0)
        try "wrong passphrase".write(toFile: pass, atomically: true, encoding: .utf8)
        try expectRefusedRestore(f, mentions: ["passphrase", "identity", "no match"])
    }

    @Test func sidecarHashMismatchIsRefused() throws {
        let f = try DemoFixture()
        let sidecar = try #require(try f.sidecars().first)
        var text = try String(contentsOfFile: sidecar, encoding: .utf8)
        let range = try #require(text.range(of: #""sha256" : "[0-9a-f]"#, options: .regularExpression))
        let last = text.index(before: range.upperBound)
        text.replaceSubrange(last...last, with: text[last] == "0" ? "1" : "0")
        try text.write(toFile: sidecar, atomically: true, encoding: .utf8)
        let verify = try f.lifeboat("verify")
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("sidecar records"))
        try expectRefusedRestore(f, mentions: ["sidecar records"])
    }

    @Test(arguments: ["dotdot", "nested-dotdot", "absolute", "symlink-then-file", "symlink-dir-then-dir", "hardlink"])
    func hostileArchiveIsRefused(kind: String) throws {
        let f = try DemoFixture()
        let recipient = try Harness.run("age-keygen", ["-y", f.key]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let outside = f.dir + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let evil = f.dir + "/evil.tar.zst.age"
        // A Lifeboat-looking archive made by Python's tarfile, with one hostile entry after the manifest.
        let script = """
            import io, tarfile, sys, json
            kind, outside = sys.argv[1], sys.argv[2]
            buf = io.BytesIO()
            t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
            def add(name, data=b"x", **kw):
                info = tarfile.TarInfo(name); info.size = len(data)
                for k, v in kw.items(): setattr(info, k, v)
                t.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
            manifest = json.dumps({"format": 1, "snapshot": "0badc0de", "created": "2026-01-01T00:00:00Z", "host": "h",
                "job": "j", "pbx": {}, "agent_version": "x", "compression": "zstd-3",
                "components": [{"name": "c", "kind": "files", "source": "/x", "consistency": "file-walk",
                                "file_count": 1, "bytes": 1}], "files": []}).encode()
            add("lifeboat/manifest.json", manifest)
            if kind == "dotdot": add("components/c/../../../outside/pwned")
            if kind == "nested-dotdot": add("components/c/a/../../../../outside/pwned")
            if kind == "absolute": add(outside + "/pwned")
            if kind == "symlink-then-file":
                add("components/c/link", b"", type=tarfile.SYMTYPE, linkname=outside)
                add("components/c/link/pwned")
            if kind == "symlink-dir-then-dir":
                add("components/c/link", b"", type=tarfile.SYMTYPE, linkname=outside)
                add("components/c/link/sub", b"", type=tarfile.DIRTYPE)
            if kind == "hardlink": add("components/c/hl", b"", type=tarfile.LNKTYPE, linkname="/etc/passwd")
            add("lifeboat/checksums.json", json.dumps({"snapshot": "0badc0de", "files": [], "vanished": []}).encode())
            t.close()
            sys.stdout.buffer.write(buf.getvalue())
            """
        let made = try Harness.shell(
            "python3 -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))' \(kind) '\(outside)' | zstd -q | age -r \(recipient) > '\(evil)'")
        #expect(made.status == 0, "\(made.output)")
        let target = f.dir + "/victim"
        let result = try Harness.lifeboat(["restore", evil, "--identity", f.key, "--target", target, "--config", f.dir + "/none.yaml"])
        #expect(result.status != 0, "\(result.output)")
        #expect(!fileExists(target))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "nothing written outside")
        let message = result.stderr.lowercased()
        #expect(["..", "absolute", "symlink", "link", "unsupported", "hard"].contains { message.contains($0) }, "\(result.stderr)")
    }

    @Test func missingSourceFailsTheBackup() throws {
        let f = try DemoFixture()
        let astdb = f.pbx + "/var/lib/asterisk/astdb.sqlite3"
        try FileManager.default.moveItem(atPath: astdb, toPath: astdb + ".moved")
        let result = try f.lifeboat("backup")
        #expect(result.status == 1)
        #expect(result.stderr.contains("source 'astdb'"))
        #expect(result.stderr.contains("does not exist"))
        #expect(try f.snapshotsJSON().count == 1, "no new snapshot")
        try FileManager.default.moveItem(atPath: astdb + ".moved", toPath: astdb)
        try FileManager.default.removeItem(atPath: f.pbx + "/var/spool/asterisk/voicemail")
        let tree = try f.lifeboat("backup")
        #expect(tree.status == 1)
        #expect(tree.stderr.contains("source 'voicemail'"))
    }

    @Test func aNonDatabaseSQLiteSourceIsRefused() throws {
        let f = try DemoFixture()
        try "not a database".write(toFile: f.pbx + "/var/lib/asterisk/astdb.sqlite3", atomically: true, encoding: .utf8)
        let result = try f.lifeboat("backup")
        #expect(result.status == 1)
        #expect(result.stderr.contains("is not a SQLite database"))
    }
}
