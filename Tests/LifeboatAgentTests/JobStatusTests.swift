import Foundation
import LifeboatCore
import Testing

@testable import LifeboatAgent

/// What `lifeboat status` (and later the daemon's stale check) concludes from the configuration and
/// the recorded runs, at an injected instant.
@Suite struct JobStatusTests {
    let folder = StateDatabaseTests.Folder()

    func configuration(nightly: String = "schedule: \"30 2 * * *\", timezone: Europe/Berlin, stale_after: 36h")
        throws -> Configuration
    {
        let yaml = """
            host: pbx1
            state_dir: \(folder.state)
            pbx: {product: asterisk}
            encryption: none
            sources:
              - {name: astdb, kind: sqlite, path: /var/lib/asterisk/astdb.sqlite3}
            stores:
              - {name: local, kind: local, path: /mnt/a}
              - {name: nas, kind: local, path: /mnt/b}
            jobs:
              - {name: nightly, \(nightly), sources: [astdb], stores: [local, nas]}
              - {name: byhand, sources: [astdb], stores: [local]}

            """
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let path = folder.path + "/lifeboat.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return try Configuration.load(path: path, environment: [:])
    }

    func date(_ text: String) throws -> Date { try #require(Timestamp.parseISO8601(text)) }

    /// Records a finished run with per-store results.
    @discardableResult
    func record(
        _ state: StateDatabase, _ job: String, at start: Date, _ result: RunResult, stores: [String: Bool] = [:],
        error: String? = nil
    ) throws -> RunID {
        let id = try state.beginRun(job: job, trigger: .schedule, at: start)
        try state.finishRun(
            id,
            RunOutcome(
                result: result, snapshot: String(format: "%08x", Int(start.timeIntervalSince1970) & 0xffff_ffff),
                error: error,
                stores: stores.sorted { $0.key < $1.key }.map { StoreRunRecord(store: $0.key, ok: $0.value) }),
            at: start + 60)
        return id
    }

    @Test func aJobThatNeverRanIsStaleOnlyWhenItMustBeFresh() throws {
        let c = try configuration()
        let now = try date("2026-03-28T12:00:00Z")
        let nightly = try JobStatus(job: c.jobs[0], state: nil, now: now)
        #expect(nightly.lastRun == nil && nightly.running == nil && nightly.lastSuccess == nil)
        #expect(nightly.stores.map(\.store) == ["local", "nas"])
        #expect(nightly.stores.allSatisfy { $0.lastSuccess == nil && $0.staleness.isStale })
        #expect(nightly.isStale && nightly.staleSince == nil && !nightly.isOK)
        #expect(
            nightly.problems == [
                "store local: stale: no snapshot of this job yet (stale_after 1d12h)",
                "store nas: stale: no snapshot of this job yet (stale_after 1d12h)",
            ])

        let byHand = try JobStatus(job: c.jobs[1], state: nil, now: now)
        #expect(byHand.schedule == nil && byHand.nextRun == nil && byHand.scheduleError == nil)
        #expect(!byHand.isStale && byHand.isOK)
    }

    @Test func theNextRunFollowsTheScheduleInTheJobsZoneAcrossDaylightSaving() throws {
        let c = try configuration()
        // 02:30 does not exist in Berlin on 29 March 2026: the fixed-time job runs at 03:00 CEST.
        let status = try JobStatus(job: c.jobs[0], state: nil, now: try date("2026-03-28T12:00:00Z"))
        #expect(status.nextRun == (try date("2026-03-29T01:00:00Z")))
        #expect(status.timeZoneName == "Europe/Berlin")
        #expect(status.jsonObject["next_run"] as? String == "2026-03-29T01:00:00Z")
        #expect(status.jsonObject["timezone"] as? String == "Europe/Berlin")
    }

    @Test func aStoreWithoutASnapshotForLongerThanStaleAfterMakesTheJobStale() throws {
        let c = try configuration()
        let state = try StateDatabase(stateDirectory: c.stateDirectory)
        let t0 = try date("2026-11-20T02:30:00Z")
        let full = try record(state, "nightly", at: t0, .succeeded, stores: ["local": true, "nas": true])
        let part = try record(
            state, "nightly", at: t0 + 86_400, .partial, stores: ["local": true, "nas": false], error: "nas: full")

        // 26 hours after the first run: both stores are within 36 hours.
        var status = try JobStatus(job: c.jobs[0], state: state, now: t0 + 26 * 3600)
        #expect(!status.isStale)
        #expect(status.lastSuccess?.id == full)
        #expect(status.stores.map { $0.lastSuccess?.run } == [part, full])
        // The last run was partial: that needs attention by itself.
        #expect(status.problems.count == 1 && status.problems[0].contains("partial: nas: full"))

        // Two days after the first run the NAS's newest snapshot (ended t0 + 60 s) is older than 36 h.
        status = try JobStatus(job: c.jobs[0], state: state, now: t0 + 2 * 86_400)
        #expect(status.isStale)
        #expect(!status.stores[0].staleness.isStale)
        #expect(status.stores[1].staleness.isStale)
        let since = t0 + 60 + 36 * 3600
        #expect(same(status.stores[1].staleness.since, since))
        #expect(same(status.staleSince, since))
        #expect(status.problems.contains { $0.hasPrefix("store nas: stale: no snapshot for more than 1d12h") })
        let json = status.jsonObject
        #expect(json["stale"] as? Bool == true)
        #expect(json["stale_since"] as? String == Timestamp.iso8601(since))
        #expect(json["stale_after_seconds"] as? Int64 == 129_600)

        // A later run that succeeds everywhere clears both.
        try record(state, "nightly", at: t0 + 2 * 86_400, .succeeded, stores: ["local": true, "nas": true])
        status = try JobStatus(job: c.jobs[0], state: state, now: t0 + 2 * 86_400 + 120)
        #expect(!status.isStale && status.isOK)
    }

    @Test func aFailedOrInterruptedLastRunNeedsAttentionAndASkippedRunDoesNotHideIt() throws {
        let c = try configuration(nightly: "schedule: \"@daily\", timezone: UTC")
        let state = try StateDatabase(stateDirectory: c.stateDirectory)
        let t0 = try date("2026-11-20T00:00:00Z")
        try record(state, "nightly", at: t0, .succeeded, stores: ["local": true, "nas": true])
        let failed = try record(state, "nightly", at: t0 + 86_400, .failed, error: "source 'astdb': missing")
        try state.recordSkippedRun(job: "nightly", trigger: .schedule, at: t0 + 86_500, reason: "still running")

        var status = try JobStatus(job: c.jobs[0], state: state, now: t0 + 86_600, recentRuns: 10)
        #expect(status.lastRun?.id == failed)
        #expect(status.recentRuns.map(\.result) == [.skipped, .failed, .succeeded])
        #expect(
            status.problems == [
                "last run \(failed) (schedule, started 2026-11-21T00:00:00Z): failed: source 'astdb': missing"
            ])
        #expect(!status.isStale, "without stale_after nothing is stale")

        // A run that is going on is reported as running, and an interrupted one needs attention.
        var gone = ProcessIdentity.current
        gone.startTime += 1
        let id = try state.beginRun(job: "nightly", trigger: .manual, at: t0 + 86_700, process: gone)
        let live = try state.beginRun(job: "byhand", trigger: .manual, at: t0 + 86_700)
        status = try JobStatus(job: c.jobs[1], state: state, now: t0 + 86_800)
        #expect(status.running?.id == live && status.isOK)
        try state.markInterruptedRuns(now: t0 + 86_800)
        status = try JobStatus(job: c.jobs[0], state: state, now: t0 + 86_800)
        #expect(status.lastRun?.id == id && status.lastRun?.result == .interrupted)
        #expect(status.problems.first?.contains("ended without recording a result") == true)
        #expect(status.running == nil)
    }

    @Test func anUnusableScheduleNeedsAttention() throws {
        // The loader refuses such a schedule (with key and line); status must still cope with one.
        #expect(throws: ConfigurationError.self) { _ = try self.configuration(nightly: "schedule: \"61 2 * * *\"") }
        var job = try configuration().jobs[0]
        job.schedule = "61 2 * * *"
        let status = try JobStatus(job: job, state: nil, now: Date())
        #expect(status.scheduleError != nil && status.nextRun == nil)
        #expect(!status.isOK)
        #expect(status.problems.first?.hasPrefix("schedule \"61 2 * * *\": ") == true)
    }
}
