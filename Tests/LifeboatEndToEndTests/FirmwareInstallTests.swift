import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `mode: install` end to end, with shell scripts standing in for the PBX's tools: the "firmware" is a
/// version file, `install_command` writes the new version, `health_command` reads a flag file,
/// `rollback_command` writes the old version back. The feed and the image come from a local HTTPS
/// server, the feed signed with the `minisign` CLI.
@Suite(.serialized) struct FirmwareInstallTests {
    final class PBX {
        let dir = NSTemporaryDirectory() + "lifeboat-fwi-" + UUID().uuidString.prefix(8)
        let server: FirmwareTestServer
        let key: MinisignCLIKey
        let image = Array((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        var config: String { dir + "/lifeboat.yaml" }
        var versionFile: String { dir + "/version" }
        var log: String { dir + "/steps.log" }

        init(window: String = "{days: [mon, tue, wed, thu, fri, sat, sun], start: \"00:00\", end: \"23:59\", timezone: UTC}",
            storePath: String? = nil, installSleep: Int = 0, checkSchedule: String? = nil) throws
        {
            server = try FirmwareTestServer()
            key = try MinisignCLIKey()
            let fm = FileManager.default
            for sub in ["data", "store", "bin"] { try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
            try "37.12.0.30\n".write(toFile: versionFile, atomically: true, encoding: .utf8)
            try "[general]\ncontext=default\n".write(toFile: dir + "/data/sip.conf", atomically: true, encoding: .utf8)
            _ = fm.createFile(atPath: dir + "/healthy", contents: nil)
            try script("install", """
                echo "install $1" >> '\(log)'
                cmp -s "$1" '\(dir)/expected.img' || { echo "not the published image: $1" >&2; exit 3; }
                echo 37.12.0.44 > '\(versionFile)'
                echo "[general]\\ncontext=upgraded" > '\(dir)/data/sip.conf'
                sleep \(installSleep)
                """)
            try script("health", """
                echo health >> '\(log)'
                test -e '\(dir)/healthy' || { echo "asterisk is not answering" >&2; exit 1; }
                """)
            try script("rollback", """
                echo rollback >> '\(log)'
                echo 37.12.0.30 > '\(versionFile)'
                """)
            try Data(image).write(to: URL(fileURLWithPath: dir + "/expected.img"))
            try server.put("pbx-37.12.0.44.img", image)
            let sha = try Harness.shell("sha256sum '\(dir)/expected.img' | cut -d' ' -f1").stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let feed = """
                {"product": "asterisk-pbx", "channel": "stable", "issued": "\(iso(Date().addingTimeInterval(-60)))",
                 "expires": "\(iso(Date().addingTimeInterval(86_400)))",
                 "releases": [{"version": "37.12.0.44", "url": "\(server.url("pbx-37.12.0.44.img"))", "size": \(image.count), "sha256": "\(sha)"}]}
                """
            try server.put("stable.json", Array(feed.utf8))
            try server.put("stable.json.minisig", Array(try key.sign(Array(feed.utf8)).utf8))
            let text = """
                host: pbx1
                state_dir: \(dir)/state
                pbx: {product: asterisk-pbx, firmware_version_file: \(versionFile)}
                encryption: none
                sources: [{name: config, kind: files, path: \(dir)/data}]
                stores: [{name: local, kind: local, path: \(storePath ?? dir + "/store")}]
                jobs: [{name: nightly, sources: [config], stores: [local]}]
                firmware:
                  feed_url: \(server.url("stable.json"))
                  public_key: \(try key.publicKeyLine())
                  ca_file: \(server.caFile)
                  mode: install
                  window: \(window)
                  pre_upgrade_job: nightly
                  install_command: [/bin/sh, \(dir)/bin/install, "{image}"]
                  health_command: [/bin/sh, \(dir)/bin/health]
                  rollback_command: [/bin/sh, \(dir)/bin/rollback]
                  health_timeout: 4s
                  health_interval: 1s
                \(checkSchedule.map { "  check_schedule: \"\($0)\"\n  timezone: UTC\n" } ?? "")

                """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            chmod(config, 0o600)
        }

        deinit {
            key.remove()
            try? FileManager.default.removeItem(atPath: dir)
        }

        private func script(_ name: String, _ body: String) throws {
            try ("set -e\n" + body + "\n").write(toFile: dir + "/bin/" + name, atomically: true, encoding: .utf8)
        }

        func iso(_ date: Date) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(from: date)
        }

        func lifeboat(_ arguments: String...) throws -> Harness.Result {
            try Harness.lifeboat(arguments + ["--config", config])
        }

        var version: String {
            ((try? String(contentsOfFile: versionFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }

        var steps: [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map {
                $0.hasPrefix("install ") ? "install" : String($0)
            }
        }

        func events(_ type: String) throws -> [[String: Any]] {
            try JSONSerialization.jsonObject(with: Data(try lifeboat("events", "--json", "--type", type).stdout.utf8))
                as? [[String: Any]] ?? []
        }

        func status() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(try lifeboat("firmware", "status", "--json").stdout.utf8))
                as? [String: Any] ?? [:]
        }
    }

    @Test func aHealthyInstallIsBackedUpFirstAndReported() throws {
        let pbx = try PBX()
        let result = try pbx.lifeboat("firmware", "install", "--ignore-window")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdout.contains("firmware 37.12.0.44 installed and healthy"), "\(result.output)")
        #expect(pbx.version == "37.12.0.44")
        #expect(pbx.steps == ["install", "health"])
        // The pre-upgrade snapshot was committed before the install.
        let snapshots = try pbx.lifeboat("snapshots", "--json")
        #expect(snapshots.stdout.contains("\"job\" : \"nightly\"") || snapshots.stdout.contains("\"job\":\"nightly\""), "\(snapshots.output)")
        #expect(try pbx.events("firmware.install_started").count == 1)
        let installed = try pbx.events("firmware.installed")
        #expect(installed.count == 1)
        #expect((installed.first?["attributes"] as? [String: String])?["from_version"] == "37.12.0.30")
        #expect((try pbx.status()["install"] as? [String: Any])?["step"] as? String == "installed")
    }

    @Test func aPreUpgradeBackupThatCommitsNowhereInstallsNothing() throws {
        let pbx = try PBX(storePath: NSTemporaryDirectory() + "lifeboat-no-such-store-" + UUID().uuidString)
        let result = try pbx.lifeboat("firmware", "install", "--ignore-window")
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stdout.contains("not installed"), "\(result.output)")
        #expect(pbx.steps.isEmpty, "the install command ran: \(pbx.steps)")
        #expect(pbx.version == "37.12.0.30")
        let failed = try pbx.events("firmware.failed")
        #expect(failed.count == 1 && failed.first?["level"] as? String == "warning", "\(failed)")
    }

    @Test func outsideTheWindowItWaitsAndTouchesNothing() throws {
        // A window that opens in two hours (UTC, every day).
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour!
        let start = String(format: "%02d:00", (hour + 2) % 24), end = String(format: "%02d:00", (hour + 3) % 24)
        let pbx = try PBX(window: "{days: [mon, tue, wed, thu, fri, sat, sun], start: \"\(start)\", end: \"\(end)\", timezone: UTC}")
        let waiting = try Harness.spawn(["firmware", "install", "--config", pbx.config])
        defer { if waiting.isRunning { kill(waiting.processIdentifier, SIGKILL) } }
        var step: String?
        for _ in 0..<100 where step == nil {
            usleep(200_000)
            step = (try pbx.status()["install"] as? [String: Any])?["step"] as? String
        }
        #expect(step == "waiting_for_window")
        #expect(waiting.isRunning, "the install did not wait")
        #expect(pbx.steps.isEmpty)
        #expect(pbx.version == "37.12.0.30")
        #expect(try FileManager.default.contentsOfDirectory(atPath: pbx.dir + "/store").isEmpty, "backed up outside the window")
    }

    @Test func aKillDuringTheInstallStepIsFinishedOnRestartWithItsEvent() throws {
        let pbx = try PBX(installSleep: 3)
        let install = try Harness.spawn(["firmware", "install", "--ignore-window", "--config", pbx.config])
        // Kill lifeboat while install_command runs (its script sleeps after writing the new version).
        var seen = false
        for _ in 0..<150 where !seen {
            usleep(100_000)
            seen = pbx.steps.contains("install")
        }
        #expect(seen)
        kill(install.processIdentifier, SIGKILL)
        install.waitUntilExit()
        #expect((try pbx.status()["install"] as? [String: Any])?["step"] as? String == "installing")
        #expect(try pbx.events("firmware.installed").isEmpty)
        sleep(4)  // the orphaned install script finishes meanwhile, as a real one would

        let again = try pbx.lifeboat("firmware", "install", "--ignore-window")
        #expect(again.status == 0, "\(again.output)")
        #expect(again.stdout.contains("An interrupted install was continued: firmware 37.12.0.44 installed and healthy"), "\(again.output)")
        #expect(pbx.steps.filter { $0 == "install" }.count == 1, "install ran twice: \(pbx.steps)")
        #expect(try pbx.events("firmware.installed").count == 1)
        #expect(pbx.version == "37.12.0.44")
    }

    @Test func anUnhealthyInstallIsRolledBackAndTheConfigurationRestored() throws {
        let pbx = try PBX()
        try FileManager.default.removeItem(atPath: pbx.dir + "/healthy")
        let result = try pbx.lifeboat("firmware", "install", "--ignore-window")
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stdout.contains("rolled back and the configuration restored"), "\(result.output)")
        #expect(pbx.steps.first == "install" && pbx.steps.last == "rollback", "\(pbx.steps)")
        #expect(pbx.steps.filter { $0 == "health" }.count >= 3, "health_timeout 4s at 1s intervals: \(pbx.steps)")
        #expect(pbx.version == "37.12.0.30")
        // install_command rewrote sip.conf; the pre-upgrade snapshot's copy is back, nothing left over.
        #expect(try String(contentsOfFile: pbx.dir + "/data/sip.conf", encoding: .utf8) == "[general]\ncontext=default\n")
        #expect(!FileManager.default.fileExists(atPath: pbx.dir + "/data.lifeboat-old"))
        let failed = try pbx.events("firmware.failed")
        #expect(failed.count == 1 && failed.first?["level"] as? String == "alert", "\(failed)")
        #expect(try pbx.events("firmware.rolled_back").count == 1)
        #expect(try pbx.events("restore.done").count == 1)
        #expect((try pbx.status()["install"] as? [String: Any])?["step"] as? String == "rolled_back")
    }

    @Test func theDaemonChecksOnScheduleAndInstallsInTheWindow() throws {
        let pbx = try PBX(checkSchedule: "* * * * *")
        let daemon = try Harness.spawn(["daemon", "--config", pbx.config])
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        var installed: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(150)
        while installed.isEmpty && Date() < deadline {
            sleep(2)
            installed = try pbx.events("firmware.installed")
        }
        #expect(installed.count == 1, "steps: \(pbx.steps); status: \((try? pbx.status()) ?? [:])")
        #expect(pbx.version == "37.12.0.44")
        #expect(try pbx.events("firmware.available").count == 1)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }
}
