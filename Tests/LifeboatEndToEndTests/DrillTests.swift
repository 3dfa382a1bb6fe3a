import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `lifeboat drill`: a restore rehearsal of the demo installation's newest snapshot, then of a
/// corrupted one, with what `status` and the event log say about each.
@Suite struct DrillTests {
    @Test func aHealthyStorePassesAndACorruptedArchiveRaisesTheAlert() throws {
        let f = try DemoFixture()
        var result = try f.lifeboat("drill", "--json")
        #expect(result.status == 0, "\(result.output)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        let store = try #require((reports.first?["stores"] as? [[String: Any]])?.first)
        #expect(store["result"] as? String == "passed", "\(store)")
        #expect(store["depth"] as? String == "restore")
        #expect((store["restore_seconds"] as? Double ?? 0) > 0)
        let checks = store["checks"] as? [String] ?? []
        #expect(checks.contains { $0.contains("every SHA-256 checked") }, "\(checks)")
        #expect(checks.contains { $0.contains("astdb.sqlite3: integrity ok") }, "\(checks)")
        // Nothing is left in the scratch folder.
        let scratch = (try? FileManager.default.contentsOfDirectory(atPath: f.dir + "/state/drills")) ?? []
        #expect(scratch.isEmpty, "\(scratch)")

        var status = try f.lifeboat("status", "--json")
        #expect(status.status == 0, "\(status.output)")
        let job = try #require(
            ((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["jobs"] as? [[String: Any]])?.first)
        #expect((job["last_drill"] as? [String: Any])?["result"] as? String == "passed", "\(job)")
        #expect(try f.lifeboat("status").stdout.contains("RESTORE TOOK"))

        // One flipped byte in the stored archive: the drill fails, says why, and raises the alert.
        let archive = try #require(try f.archives().first)
        try flipByte(in: archive, at: try fileSize(archive) / 2)
        result = try f.lifeboat("drill")
        #expect(result.status == 1, "\(result.output)")
        #expect(result.stdout.contains("nightly on local: failed"), "\(result.output)")
        #expect(result.stdout.contains("the archive is corrupted"), "\(result.output)")
        let alerts = try JSONSerialization.jsonObject(
            with: Data(try f.lifeboat("events", "--json", "--type", "verify.failed").stdout.utf8)) as? [[String: Any]] ?? []
        #expect(alerts.count == 1 && alerts.first?["level"] as? String == "alert", "\(alerts)")
        status = try f.lifeboat("status")
        #expect(status.status == 1)
        #expect(status.stdout.contains("restore drill of"), "\(status.output)")
    }

    @Test func theDaemonRunsTheDrillOnItsSchedule() throws {
        let f = try DemoFixture()
        try f.editConfig {
            $0.replacingOccurrences(
                of: "stores: [local]}", with: "stores: [local], drill: {schedule: \"* * * * *\", timezone: UTC}}")
        }
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: Harness.binary)
        daemon.arguments = ["daemon", "--config", f.config]
        daemon.standardOutput = FileHandle.nullDevice
        daemon.standardError = FileHandle.nullDevice
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        // The next minute's fire (at most 60 s away, woken within a minute), then the drill itself.
        var drill: [String: Any]?
        let deadline = Date().addingTimeInterval(150)
        while drill == nil && Date() < deadline {
            sleep(2)
            let status = try f.lifeboat("status", "--json")
            let job = ((try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["jobs"]
                as? [[String: Any]])?.first
            drill = job?["last_drill"] as? [String: Any]
        }
        #expect(drill?["result"] as? String == "passed", "\(String(describing: drill))")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }
}
