import Foundation
import LifeboatCore
import Testing

@testable import LifeboatAgent

/// The state database: schema and migrations, run records, interrupted-run detection, last-success
/// queries and settings. Raw SQL checks go through the stock `sqlite3` tool, which also shows that the
/// file is a plain SQLite database.
@Suite struct StateDatabaseTests {
    /// A temporary folder, removed when the test ends.
    final class Folder {
        let path = NSTemporaryDirectory() + "lifeboat-state-test-" + UUID().uuidString.prefix(8)
        var state: String { path + "/state" }
        var database: String { state + "/state.sqlite3" }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    func sqlite3(_ path: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", path, sql]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "sqlite3 \(sql)")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func migrationsCreateAPrivateWALDatabaseInAFolderThatDoesNotExist() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        #expect(state.path == folder.database)
        #expect(try mode(folder.state) == 0o700)
        #expect(try mode(folder.database) == 0o600)
        let id = try state.beginRun(job: "nightly", trigger: .manual, at: t0)
        // SQLite gives the write-ahead log the database file's mode.
        #expect(fileExists(folder.database + "-wal"))
        #expect(try mode(folder.database + "-wal") == 0o600)
        try state.close()

        #expect(try sqlite3(folder.database, "PRAGMA journal_mode") == "wal")
        #expect(
            try sqlite3(folder.database, "SELECT identifier FROM grdb_migrations ORDER BY rowid")
                == "1-runs\n2-settings\n3-events\n4-notifications\n5-run-hooks")
        #expect(
            try sqlite3(
                folder.database,
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'grdb%' AND name NOT LIKE 'sqlite%' ORDER BY name"
            )
                == "events\njob_last_success\nnotification_events\nnotification_groups\nnotifications\nrun_hooks\nrun_stores\nruns\nsettings\nstore_last_success")

        // Opening again migrates nothing and keeps the records.
        let again = try StateDatabase(stateDirectory: folder.state)
        #expect(try again.run(id)?.job == "nightly")
        #expect(try sqlite3(folder.database, "SELECT count(*) FROM grdb_migrations") == "5")
    }

    @Test func reportingCommandsCreateNothing() throws {
        let folder = Folder()
        #expect(try StateDatabase.openExisting(stateDirectory: folder.state) == nil)
        #expect(!fileExists(folder.state))
    }

    @Test func anOlderSchemaIsMigratedAndKeepsItsRuns() throws {
        let folder = Folder()
        let id = try StateDatabase(stateDirectory: folder.state).beginRun(job: "nightly", trigger: .manual, at: t0)
        // Make the file look like one written before the settings migration existed.
        _ = try sqlite3(
            folder.database, "DROP TABLE settings; DELETE FROM grdb_migrations WHERE identifier = '2-settings'")

        let state = try StateDatabase(stateDirectory: folder.state)
        try state.setSetting("firmware.highest_seen", to: "37.12.0.44", at: t0)
        #expect(try state.setting("firmware.highest_seen")?.value == "37.12.0.44")
        #expect(try state.run(id)?.result == .running)
    }

    @Test func aDatabaseMigratedByALaterVersionIsRefused() throws {
        let folder = Folder()
        try StateDatabase(stateDirectory: folder.state).close()
        _ = try sqlite3(folder.database, "INSERT INTO grdb_migrations (identifier) VALUES ('3-from-the-future')")
        let error = try #require(throws: StateError.self) { try StateDatabase(stateDirectory: folder.state) }
        #expect(error.code == .newerVersion)
        #expect(error.message.contains(folder.database))
    }

    @Test func aRunIsRecordedWhenItStartsAndCompletedWhenItEnds() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        let id = try state.beginRun(job: "nightly", trigger: .schedule, at: t0)

        let running = try #require(try state.run(id))
        #expect(running.result == .running)
        #expect(running.endedAt == nil && running.duration == nil)
        #expect(running.process == ProcessIdentity.current)
        #expect(try state.runningRuns(job: "nightly").map(\.id) == [id])
        #expect(try state.lastFinishedRun(job: "nightly") == nil)

        let outcome = RunOutcome(
            result: .partial, snapshot: "1a2b3c4d", archive: "pbx1/nightly/20261126T023000Z-1a2b3c4d.tar.zst.age",
            archiveBytes: 4096, error: "s3: unreachable",
            stores: [
                StoreRunRecord(store: "local", ok: true, verification: nil, bytes: 4096, pruned: 2),
                StoreRunRecord(store: "s3", ok: false, error: "unreachable"),
            ])
        try state.finishRun(id, outcome, at: t0 + 12.5)

        let run = try #require(try state.run(id))
        #expect(run.result == .partial)
        #expect(run.trigger == .schedule)
        #expect(same(run.startedAt, t0) && same(run.endedAt, t0 + 12.5))
        #expect(abs((run.duration ?? 0) - 12.5) < 0.002)
        #expect(run.snapshot == "1a2b3c4d" && run.archiveBytes == 4096 && run.error == "s3: unreachable")
        #expect(run.stores == outcome.stores)
        #expect(try state.runningRuns().isEmpty)
        #expect(try state.lastFinishedRun(job: "nightly")?.id == id)
        #expect(throws: StateError.self) { try state.finishRun(RunID(rawValue: 999), .failed("x"), at: t0) }
    }

    @Test func aRunWhoseProcessIsGoneIsMarkedInterruptedWhenTheDatabaseIsOpened() throws {
        let folder = Folder()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { if child.isRunning { child.terminate() } }
        let identity = try #require(ProcessIdentity.of(pid: child.processIdentifier))
        #expect(identity.isRunning)

        let state = try StateDatabase(stateDirectory: folder.state)
        let done = try state.beginRun(job: "nightly", trigger: .manual, at: t0, process: identity)
        try state.finishRun(done, RunOutcome(result: .succeeded, snapshot: "aaaaaaaa"), at: t0 + 1)
        let id = try state.beginRun(job: "nightly", trigger: .manual, at: t0 + 60, process: identity)

        // The process is alive: the run is going on, whoever opens the database.
        let whileAlive = try StateDatabase(stateDirectory: folder.state)
        #expect(whileAlive.interruptedAtOpen.isEmpty)
        #expect(try whileAlive.run(id)?.result == .running)

        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(!identity.isRunning)

        let afterKill = try StateDatabase(stateDirectory: folder.state, now: t0 + 120)
        #expect(afterKill.interruptedAtOpen.map(\.id) == [id])
        let run = try #require(try afterKill.run(id))
        #expect(run.result == .interrupted)
        #expect(run.endedAt == nil)
        #expect(run.error?.contains("pid \(identity.pid)") == true)
        #expect(try afterKill.run(done)?.result == .succeeded)
        #expect(try afterKill.lastFinishedRun(job: "nightly")?.id == id)
        #expect(try afterKill.runningRuns().isEmpty)
        // The alert is written in the same transaction as the mark.
        let alerts = try afterKill.events(type: "backup.failed")
        #expect(alerts.count == 1)
        #expect(alerts.first?.level == .alert)
        #expect(alerts.first?.attributes["run"] == "\(id)" && alerts.first?.attributes["result"] == "interrupted")
        // Marked once: the next open finds nothing new, and raises nothing again.
        #expect(try StateDatabase(stateDirectory: folder.state).interruptedAtOpen.isEmpty)
        #expect(try afterKill.events(type: "backup.*").count == 1)
    }

    @Test func oldHistoryGoesButWhatStatusNeedsStays() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        let day: TimeInterval = 86_400
        func run(_ job: String, _ daysAgo: Double, _ result: RunResult, stores: [String: Bool] = [:]) throws -> RunID {
            let id = try state.beginRun(job: job, trigger: .schedule, at: t0 - daysAgo * day)
            try state.finishRun(
                id,
                RunOutcome(
                    result: result, stores: stores.sorted { $0.key < $1.key }.map { StoreRunRecord(store: $0.key, ok: $0.value) }),
                at: t0 - daysAgo * day + 60)
            return id
        }
        let ancientSuccessOnNAS = try run("nightly", 900, .partial, stores: ["local": false, "nas": true])
        let oldSuccess = try run("nightly", 800, .succeeded, stores: ["local": true, "nas": true])
        let oldFailure = try run("nightly", 700, .failed, stores: ["local": false, "nas": false])
        let oldPartial = try run("nightly", 500, .partial, stores: ["local": true, "nas": false])
        let recent = try run("nightly", 10, .failed, stores: ["local": false, "nas": false])
        let onlyRun = try run("weekly", 600, .failed)
        for (daysAgo, type) in [(200.0, "pbx.old"), (100.0, "pbx.recent")] {
            try state.recordEvent(
                Event(type: type, level: .warning, time: t0 - daysAgo * day, source: "test"), at: t0 - daysAgo * day)
        }

        let pruned = try state.pruneHistory(now: t0)
        #expect(pruned.runs == 2 && pruned.events == 1)
        let kept = Set(try state.lastRuns(limit: 100).map(\.id))
        // Gone: a failure, and the partial run superseded on nas by the success after it.
        #expect(!kept.contains(oldFailure) && !kept.contains(ancientSuccessOnNAS))
        // Kept: the newest success (also nas's newest), local's newest commit, the newest run, weekly's only run.
        #expect(kept == [oldSuccess, oldPartial, recent, onlyRun])
        #expect(try state.lastSuccess(job: "nightly")?.id == oldSuccess)
        #expect(try state.lastSuccess(job: "nightly", store: "local")?.run == oldPartial)
        #expect(try state.lastSuccess(job: "nightly", store: "nas")?.run == oldSuccess)
        #expect(try state.events().map(\.type) == ["pbx.recent"])
        #expect(try sqlite3(folder.database, "SELECT count(*) FROM run_stores") == "6", "store rows go with their run")
        #expect(try state.pruneHistory(now: t0) == (0, 0))
    }

    @Test func theEventLogKeepsEachEventOnceAndFiltersByTimeTypeAndLevel() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        let events = [
            Event(type: "backup.succeeded", level: .information, time: t0, source: "agent", attributes: ["job": "a"]),
            Event(type: "backup.stale", level: .alert, time: t0 + 60, source: "agent", attributes: ["job": "a"]),
            Event(
                type: "pbx.web_user_locked_out", level: .warning, time: t0 + 120, source: "api",
                attributes: ["user": "admin", "ip": "203.0.113.9"], message: "Web user locked out"),
        ]
        for event in events { #expect(try state.recordEvent(event)) }
        #expect(try !state.recordEvent(events[1]), "the same id is recorded once")
        #expect(try state.events() == events)
        #expect(try state.events(since: t0 + 60).map(\.type) == ["backup.stale", "pbx.web_user_locked_out"])
        #expect(try state.events(type: "backup.*").map(\.type) == ["backup.succeeded", "backup.stale"])
        #expect(try state.events(minimumLevel: .warning).map(\.level) == [.alert, .warning])
        #expect(try state.events(limit: 1) == [events[2]])
        #expect(try state.eventCounts() == [.information: 1, .warning: 1, .alert: 1])
        #expect(Event.isWellFormedType("pbx.sip_trunk_registration_failed"))
        #expect(!Event.isWellFormedType("Backup.Failed") && !Event.isWellFormedType("backup..failed"))
        #expect(events[0].id.hasPrefix("evt_") && events[0].id.count == 30 && events[0].id != events[1].id)
    }

    @Test func aReusedPidOrAnEarlierBootIsNotTakenForTheRunningProcess() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        let me = ProcessIdentity.current
        #expect(me.startTime > 0 && !me.bootID.isEmpty, "procfs is expected on Linux")
        var reused = me
        reused.startTime += 1  // the same pid, another process
        var earlierBoot = me
        earlierBoot.bootID = "00000000-0000-0000-0000-000000000000"

        let live = try state.beginRun(job: "a", trigger: .manual, at: t0, process: me)
        let pidReused = try state.beginRun(job: "b", trigger: .manual, at: t0, process: reused)
        let beforeReboot = try state.beginRun(job: "c", trigger: .manual, at: t0, process: earlierBoot)

        let marked = try state.markInterruptedRuns(now: t0 + 5)
        #expect(Set(marked.map(\.id)) == [pidReused, beforeReboot])
        #expect(try state.run(live)?.result == .running)
        #expect(try state.run(pidReused)?.result == .interrupted)
        #expect(try state.run(beforeReboot)?.result == .interrupted)
        #expect(ProcessIdentity.of(pid: Int32.max) == nil)
    }

    @Test func lastSuccessIsPerJobAndPerStore() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        func run(_ job: String, _ start: TimeInterval, _ result: RunResult, _ stores: [String: Bool], snapshot: String?)
            throws -> RunID
        {
            let id = try state.beginRun(job: job, trigger: .schedule, at: t0 + start)
            try state.finishRun(
                id,
                RunOutcome(
                    result: result, snapshot: snapshot,
                    stores: stores.sorted { $0.key < $1.key }.map {
                        StoreRunRecord(store: $0.key, ok: $0.value, verification: $0.value ? "SIZE" : nil)
                    }),
                at: t0 + start + 10)
            return id
        }
        #expect(try state.lastSuccess(job: "nightly") == nil)
        #expect(try state.lastSuccessPerStore(job: "nightly").isEmpty)

        let r1 = try run("nightly", 0, .succeeded, ["local": true, "s3": true], snapshot: "11111111")
        let r2 = try run("nightly", 100, .partial, ["local": true, "s3": false], snapshot: "22222222")
        let r3 = try run("nightly", 200, .failed, [:], snapshot: nil)
        try state.recordSkippedRun(job: "nightly", trigger: .schedule, at: t0 + 205, reason: "still running")
        let other = try run("weekly", 300, .succeeded, ["local": true], snapshot: "33333333")

        #expect(try state.lastSuccess(job: "nightly")?.id == r1)
        #expect(try state.lastSuccess(job: "weekly")?.id == other)
        let local = try #require(try state.lastSuccess(job: "nightly", store: "local"))
        #expect(local.run == r2 && local.snapshot == "22222222")
        #expect(same(local.startedAt, t0 + 100) && same(local.endedAt, t0 + 110) && local.verification == "SIZE")
        let s3 = try #require(try state.lastSuccess(job: "nightly", store: "s3"))
        #expect(s3.run == r1 && s3.snapshot == "11111111")
        #expect(try state.lastSuccess(job: "nightly", store: "sftp") == nil)
        #expect(try state.lastSuccessPerStore(job: "weekly").keys.sorted() == ["local"])

        // The last run is the failed one: the skipped run after it does not hide it.
        #expect(try state.lastFinishedRun(job: "nightly")?.id == r3)
        let recent = try state.lastRuns(job: "nightly", limit: 10)
        #expect(recent.map(\.result) == [.skipped, .failed, .partial, .succeeded])
        #expect(recent.first?.error == "still running")
        #expect(try state.lastRuns(limit: 2).map(\.job) == ["weekly", "nightly"])
        #expect(
            try state.runCounts() == [
                "nightly": [.succeeded: 1, .partial: 1, .failed: 1, .skipped: 1], "weekly": [.succeeded: 1],
            ])
    }

    @Test func settingsAreUpdatedAtomically() throws {
        let folder = Folder()
        let state = try StateDatabase(stateDirectory: folder.state)
        #expect(try state.setting("firmware.highest_seen") == nil)
        func keepHigher(_ version: String) throws -> String? {
            try state.updateSetting("firmware.highest_seen", at: t0) { old in
                guard let old else { return version }
                return old.compare(version, options: .numeric) == .orderedAscending ? version : old
            }
        }
        #expect(try keepHigher("37.9.0.1") == "37.9.0.1")
        #expect(try keepHigher("37.12.0.44") == "37.12.0.44")
        #expect(try keepHigher("37.10.0.0") == "37.12.0.44")
        let stored = try #require(try state.setting("firmware.highest_seen"))
        #expect(stored.value == "37.12.0.44" && same(stored.updatedAt, t0))

        try state.setSetting("other", to: "x", at: t0 + 1)
        try state.removeSetting("other")
        #expect(try state.setting("other") == nil)
        try state.updateSetting("firmware.highest_seen") { _ in nil }
        #expect(try state.setting("firmware.highest_seen") == nil)
    }
}

func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

/// Times go through the database with millisecond precision.
func same(_ a: Date?, _ b: Date) -> Bool {
    guard let a else { return false }
    return abs(a.timeIntervalSince(b)) < 0.002
}
