import Foundation
import Testing

/// `lifeboat status` on the demo installation: every `lifeboat backup` is recorded in the state
/// database, and status shows runs, the newest snapshot per store, staleness and killed runs.
@Suite struct StatusCommandTests {
    /// Runs `status --json` and parses it.
    func statusJSON(_ f: DemoFixture, _ extra: String...) throws -> (
        status: Int32, json: [String: Any], job: [String: Any]
    ) {
        let result = try Harness.lifeboat(["status", "--json", "--config", f.config] + extra)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.output)")
        let job = try #require((json["jobs"] as? [[String: Any]])?.first, "\(result.output)")
        return (result.status, json, job)
    }

    /// Adds a second local store `spare` to the demo job, and `stale_after`.
    func addSpareStore(_ f: DemoFixture, staleAfter: String) throws {
        try FileManager.default.createDirectory(atPath: f.dir + "/spare", withIntermediateDirectories: true)
        try f.editConfig {
            $0.replacingOccurrences(
                of: "retention: {keep_last: 7, keep_daily: 14}}",
                with: "retention: {keep_last: 7, keep_daily: 14}}\n  - {name: spare, kind: local, path: \(f.dir)/spare}"
            )
            .replacingOccurrences(of: "stores: [local]}", with: "stores: [local, spare], stale_after: \(staleAfter)}")
        }
    }

    func setStaleAfter(_ f: DemoFixture, from old: String, to new: String) throws {
        try f.editConfig { $0.replacingOccurrences(of: "stale_after: \(old)}", with: "stale_after: \(new)}") }
    }

    @Test func backupsAreRecordedAndStatusShowsRunsStoresAndStaleness() throws {
        let f = try DemoFixture()  // the demo's own backup is run 1
        try addSpareStore(f, staleAfter: "1h")
        let good = try f.lifeboat("backup", "--json")
        #expect(good.status == 0, "\(good.output)")
        try FileManager.default.removeItem(atPath: f.dir + "/spare")
        let partial = try f.lifeboat("backup", "--json")
        #expect(partial.status == 2, "\(partial.output)")
        let goodSnapshot = try #require(
            (try JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [String: Any])?["snapshot"] as? String)
        let partialSnapshot = try #require(
            (try JSONSerialization.jsonObject(with: Data(partial.stdout.utf8)) as? [String: Any])?["snapshot"]
                as? String)

        var (status, json, job) = try statusJSON(f)
        #expect(status == 1, "the last run was partial")
        #expect(json["ok"] as? Bool == false)
        #expect(json["state_database"] as? String == f.dir + "/state/state.sqlite3")
        #expect(job["job"] as? String == "nightly")
        #expect(job["schedule"] as? String == "30 2 * * *")
        #expect(job["timezone"] as? String == "UTC")
        #expect((job["next_run"] as? String)?.hasSuffix("T02:30:00Z") == true)
        #expect(job["running"] is NSNull)

        let runs = try #require(job["recent_runs"] as? [[String: Any]])
        #expect(runs.map { $0["result"] as? String } == ["partial", "succeeded", "succeeded"])
        #expect(runs.map { $0["trigger"] as? String } == ["manual", "manual", "manual"])
        #expect(runs.map { $0["snapshot"] as? String }.prefix(2) == [partialSnapshot, goodSnapshot])
        let lastRun = try #require(job["last_run"] as? [String: Any])
        #expect(lastRun["id"] as? Int == runs[0]["id"] as? Int)
        #expect((lastRun["error"] as? String)?.contains("spare") == true)
        let lastRunStores = try #require(lastRun["stores"] as? [[String: Any]])
        #expect(lastRunStores.map { $0["store"] as? String } == ["local", "spare"])
        #expect(lastRunStores.map { $0["ok"] as? Bool } == [true, false])
        #expect((lastRunStores[1]["error"] as? String)?.contains("does not exist") == true)
        let onLocal = try f.lifeboat("snapshots", "--json", "--store", "local")
        let listed = try JSONSerialization.jsonObject(with: Data(onLocal.stdout.utf8)) as? [[String: Any]]
        let size = listed?.first { $0["id"] as? String == partialSnapshot }?["size"] as? Int
        #expect(size != nil && lastRun["archive_bytes"] as? Int == size)
        #expect((job["last_success"] as? [String: Any])?["snapshot"] as? String == goodSnapshot)

        // The newest snapshot per store: the partial run's on local, the run before's on spare.
        var stores = try #require(job["stores"] as? [[String: Any]])
        #expect(stores.map { $0["store"] as? String } == ["local", "spare"])
        #expect((stores[0]["last_success"] as? [String: Any])?["snapshot"] as? String == partialSnapshot)
        #expect((stores[1]["last_success"] as? [String: Any])?["snapshot"] as? String == goodSnapshot)
        #expect(stores.map { $0["stale"] as? Bool } == [false, false])
        #expect(job["stale"] as? Bool == false)

        // With a tiny stale_after both stores are stale, since their last success plus a second.
        try setStaleAfter(f, from: "1h", to: "1s")
        usleep(1_500_000)
        (status, json, job) = try statusJSON(f)
        #expect(status == 1)
        #expect(job["stale"] as? Bool == true)
        #expect(job["stale_after_seconds"] as? Int == 1)
        stores = try #require(job["stores"] as? [[String: Any]])
        #expect(stores.map { $0["stale"] as? Bool } == [true, true])
        #expect(stores.allSatisfy { $0["stale_since"] is String })
        #expect((job["problems"] as? [String])?.contains { $0.hasPrefix("store spare: stale") } == true)

        let text = try f.lifeboat("status")
        #expect(text.status == 1)
        #expect(text.stdout.contains("nightly  30 2 * * * (UTC)"), "\(text.stdout)")
        #expect(text.stdout.contains("partial"))
        #expect(text.stdout.contains("yes, since"))
        #expect(text.stdout.contains("nightly: store spare: stale"))

        // The store is back: a good run clears everything, and status exits 0.
        try FileManager.default.createDirectory(atPath: f.dir + "/spare", withIntermediateDirectories: true)
        try setStaleAfter(f, from: "1s", to: "1h")
        #expect(try f.lifeboat("backup").status == 0)
        (status, json, job) = try statusJSON(f)
        #expect(status == 0, "\(json)")
        #expect(json["ok"] as? Bool == true)
        #expect((job["problems"] as? [String])?.isEmpty == true)
    }

    @Test func aJobThatNeverRanSaysSoAndCreatesNothing() throws {
        let f = try DemoFixture()
        let fresh = f.dir + "/fresh-state"
        try f.editConfig { $0.replacingOccurrences(of: "state_dir: \(f.dir)/state", with: "state_dir: \(fresh)") }
        let text = try f.lifeboat("status")
        #expect(text.status == 0, "\(text.output)")
        #expect(text.stdout.contains("never run"))
        #expect(!fileExists(fresh), "status must not create the state folder")

        var (status, json, job) = try statusJSON(f)
        #expect(status == 0)
        #expect(json["state_database_exists"] as? Bool == false)
        #expect(job["last_run"] is NSNull && job["stale"] as? Bool == false)

        // A job that must be fresh and never succeeded is stale: a monitoring check catches a new
        // installation whose backups never ran.
        try f.editConfig { $0.replacingOccurrences(of: "stores: [local]}", with: "stores: [local], stale_after: 36h}") }
        (status, json, job) = try statusJSON(f)
        #expect(status == 1)
        #expect(job["stale"] as? Bool == true && job["stale_since"] is NSNull)
    }

    @Test func aKilledBackupShowsAsRunningThenInterrupted() throws {
        let f = try DemoFixture()
        // Hold astdb locked so that the backup waits in its copy phase for as long as the test needs;
        // the holder lets go when its standard input closes.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()",
            f.pbx + "/var/lib/asterisk/astdb.sqlite3",
        ]
        let output = Pipe()
        let input = Pipe()
        holder.standardOutput = output
        holder.standardInput = input
        try holder.run()
        defer { try? input.fileHandleForWriting.close() }
        let line = output.fileHandleForReading.availableData
        #expect(String(decoding: line, as: UTF8.self).contains("locked"))

        let backup = try Harness.spawn(["backup", "--config", f.config])
        var running: [String: Any]?
        for _ in 0..<100 where running == nil {
            usleep(100_000)
            running = try statusJSON(f).job["running"] as? [String: Any]
        }
        let run = try #require(running, "status never showed the backup as running")
        #expect(run["pid"] as? Int == Int(backup.processIdentifier))
        #expect(run["result"] as? String == "running")
        #expect(try f.lifeboat("status").stdout.contains("nightly: running now: run \(run["id"] as? Int ?? -1)"))

        kill(backup.processIdentifier, SIGKILL)
        backup.waitUntilExit()
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()

        let (status, _, job) = try statusJSON(f)
        #expect(status == 1, "an interrupted last run needs attention")
        #expect(job["running"] is NSNull)
        let last = try #require(job["last_run"] as? [String: Any])
        #expect(last["id"] as? Int == run["id"] as? Int)
        #expect(last["result"] as? String == "interrupted")
        #expect(last["ended"] is NSNull)
        #expect((last["error"] as? String)?.contains("pid \(backup.processIdentifier)") == true)

        // The next backup succeeds and is the last run; the interrupted one stays in the history.
        #expect(try f.lifeboat("backup").status == 0)
        let after = try statusJSON(f)
        #expect(after.status == 0)
        let results = (after.job["recent_runs"] as? [[String: Any]])?.map { $0["result"] as? String }
        #expect(results == ["succeeded", "interrupted", "succeeded"])
    }

    @Test func aBackupThatFindsTheJobRunningIsRecordedAsSkipped() throws {
        let f = try DemoFixture()
        let lockHolder = Process()
        lockHolder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        lockHolder.arguments = [f.dir + "/state/locks/nightly.lock", "sleep", "5"]
        try lockHolder.run()
        defer { lockHolder.terminate() }
        usleep(300_000)
        #expect(try f.lifeboat("backup").status == 75)

        let (status, _, job) = try statusJSON(f)
        #expect(status == 0, "a skipped run is not a failure")
        let runs = try #require(job["recent_runs"] as? [[String: Any]])
        #expect(runs.map { $0["result"] as? String } == ["skipped", "succeeded"])
        #expect((runs[0]["error"] as? String)?.contains("already running") == true)
        #expect((job["last_run"] as? [String: Any])?["result"] as? String == "succeeded")
    }
}
