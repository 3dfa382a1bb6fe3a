import Foundation
import LifeboatCore
import LifeboatSchedule
import Logging
import Testing

@testable import LifeboatAgent

/// The daemon's scheduler on an injected clock: days of fires, skips, catch-up, staleness and reloads
/// run in well under a second, never by sleeping. Expected times are written out or computed by
/// plain arithmetic over minutes, not by the cron code under test.
@Suite struct JobSchedulerTests {
    let folder = StateDatabaseTests.Folder()

    /// A clock that jumps to each wake-up at once, and parks at `end` until the test moves it on.
    final class SimulationClock: SleepingClock, @unchecked Sendable {
        // @unchecked: `end` and `parked` are only read and written under `lock`; the time is a ManualWallClock.
        private let lock = NSLock()
        private let time: ManualWallClock
        private var endDate: Date
        private var parkedAtEnd = false

        init(start: Date, end: Date) {
            time = ManualWallClock(start)
            endDate = end
        }

        func now() -> Date { time.now() }

        var parked: Bool { lock.withLock { parkedAtEnd } }

        /// Lets the simulation go on to `end`, optionally jumping the clock first (a suspend, an NTP step).
        func extend(to end: Date, jumpingTo jump: Date? = nil) {
            lock.withLock {
                endDate = end
                parkedAtEnd = false
            }
            if let jump { time.set(jump) }
        }

        func sleep(until date: Date) async throws {
            let end = lock.withLock { endDate }
            if date <= end {
                try await time.sleep(until: date)
                return
            }
            if time.now() < end { time.set(end) }
            lock.withLock { parkedAtEnd = true }
            try await Task.sleep(nanoseconds: 3_600_000_000_000)  // until the scheduler is stopped or reloaded
        }
    }

    /// Starts nothing for real: records each start, and keeps the job "running" for its duration in
    /// simulated time; every run is recorded in the state database as a success on the job's stores.
    final class RecordingExecutor: JobExecutor, @unchecked Sendable {
        // @unchecked: `starts` and `busyUntil` are only read and written under `lock`.
        struct Start: Equatable {
            var job: String
            var trigger: RunTrigger
            var at: Date
        }
        private let lock = NSLock()
        private var startList: [Start] = []
        private var busyUntil: [String: Date] = [:]
        let clock: any WallClock
        let state: StateDatabase
        let durations: [String: TimeInterval]

        init(clock: any WallClock, state: StateDatabase, durations: [String: TimeInterval] = [:]) {
            self.clock = clock
            self.state = state
            self.durations = durations
        }

        var starts: [Start] { lock.withLock { startList } }

        func isRunning(_ job: String) -> Bool {
            lock.withLock { busyUntil[job].map { clock.now() < $0 } ?? false }
        }

        func start(_ job: JobConfiguration, trigger: RunTrigger, agent: Agent) {
            let now = clock.now()
            let end = now + (durations[job.name] ?? 60)
            lock.withLock {
                startList.append(Start(job: job.name, trigger: trigger, at: now))
                busyUntil[job.name] = end
            }
            do {
                let id = try state.beginRun(job: job.name, trigger: trigger, at: now)
                try state.finishRun(
                    id,
                    RunOutcome(
                        result: .succeeded, snapshot: "s\(Int(now.timeIntervalSince1970))",
                        stores: job.stores.map { StoreRunRecord(store: $0, ok: true) }),
                    at: end)
            } catch {
                Issue.record("cannot record the run: \(error)")
            }
        }
    }

    func configuration(jobs: String) throws -> Configuration {
        let yaml = """
            host: pbx1
            state_dir: \(folder.state)
            encryption: none
            sources:
              - {name: config, kind: files, path: /etc/asterisk}
            stores:
              - {name: local, kind: local, path: /mnt/a}
            jobs:
            \(jobs)

            """
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let path = folder.path + "/lifeboat.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return try Configuration.load(path: path, environment: [:])
    }

    func date(_ text: String) throws -> Date { try #require(Timestamp.parseISO8601(text)) }

    /// Runs `scheduler` until the clock parks at its end.
    func simulate(_ scheduler: JobScheduler, _ clock: SimulationClock) async throws -> Task<Void, Never> {
        let task = Task { await scheduler.run() }
        try await waitUntilParked(clock)
        return task
    }

    func waitUntilParked(_ clock: SimulationClock) async throws {
        for _ in 0..<200_000 where !clock.parked { await Task.yield() }
        #expect(clock.parked, "the simulation did not reach its end")
    }

    var logger: Logger { Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }) }

    // MARK: - Tests

    @Test func twoDaysOfSchedulesWithOverlapsAndAFixedTimeJobAcrossTheSpringForwardGap() async throws {
        let c = try configuration(
            jobs: """
                  - {name: quarter, schedule: "*/15 * * * *", timezone: UTC, sources: [config], stores: [local]}
                  - {name: nightly, schedule: "30 2 * * *", timezone: Europe/Berlin, jitter: 5m, sources: [config], stores: [local]}
                """)
        let state = try StateDatabase(stateDirectory: c.stateDirectory)
        let start = try date("2026-03-28T12:00:00Z")
        let end = try date("2026-03-30T12:00:00Z")
        let clock = SimulationClock(start: start, end: end)
        // A quarter-hourly job whose runs take 20 minutes: every second fire finds it still running.
        let executor = RecordingExecutor(clock: clock, state: state, durations: ["quarter": 20 * 60])
        let scheduler = JobScheduler(
            agent: Agent(configuration: c, logger: logger), state: state, clock: clock, executor: executor,
            jitter: { _ in 90 })

        let began = Date()
        let task = try await simulate(scheduler, clock)
        let elapsed = Date().timeIntervalSince(began)
        await scheduler.stop()
        await task.value
        print("two simulated days of schedules took \(String(format: "%.3f", elapsed)) s")

        // Every quarter hour strictly after the start and not after the end, by arithmetic.
        var quarterFires: [Date] = []
        var t = start + 15 * 60
        while t <= end {
            quarterFires.append(t)
            t += 15 * 60
        }
        let quarterStarts = executor.starts.filter { $0.job == "quarter" }
        let expectedStarts = quarterFires.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        #expect(quarterStarts.map(\.at) == expectedStarts)
        #expect(quarterStarts.allSatisfy { $0.trigger == .schedule })
        let skipped = try state.lastRuns(job: "quarter", limit: 1000).filter { $0.result == .skipped }
        #expect(skipped.map(\.startedAt).sorted() == quarterFires.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        let skipEvents = try state.events(type: "backup.skipped")
        #expect(skipEvents.count == skipped.count)
        #expect(skipEvents.allSatisfy { $0.attributes["job"] == "quarter" && $0.level == .warning })

        // 02:30 Berlin does not exist on 29 March 2026: the run comes at 03:00 CEST (01:00Z); then 02:30 CEST.
        // Each start is 90 s late: the injected jitter.
        #expect(
            executor.starts.filter { $0.job == "nightly" }.map(\.at)
                == [try date("2026-03-29T01:01:30Z"), try date("2026-03-30T00:31:30Z")])
    }

    @Test func runsMissedWhileDownRunOnceAtStartUpAndNewJobsWaitForTheirFirstFire() async throws {
        let c = try configuration(
            jobs: """
                  - {name: nightly, schedule: "30 1 * * *", timezone: UTC, sources: [config], stores: [local]}
                  - {name: brandnew, schedule: "0 * * * *", timezone: UTC, sources: [config], stores: [local]}
                """)
        let state = try StateDatabase(stateDirectory: c.stateDirectory)
        // The daemon last ran nightly three days ago; it has never seen brandnew.
        let id = try state.beginRun(job: "nightly", trigger: .schedule, at: try date("2026-03-25T01:30:00Z"))
        try state.finishRun(id, RunOutcome(result: .succeeded, stores: []), at: try date("2026-03-25T01:31:00Z"))
        let start = try date("2026-03-28T12:00:00Z")
        let clock = SimulationClock(start: start, end: try date("2026-03-29T02:00:00Z"))
        let executor = RecordingExecutor(clock: clock, state: state)
        let scheduler = JobScheduler(
            agent: Agent(configuration: c, logger: logger), state: state, clock: clock, executor: executor)
        let task = try await simulate(scheduler, clock)
        await scheduler.stop()
        await task.value

        let nightly = executor.starts.filter { $0.job == "nightly" }
        #expect(
            nightly == [
                .init(job: "nightly", trigger: .catchUp, at: start),
                .init(job: "nightly", trigger: .schedule, at: try date("2026-03-29T01:30:00Z")),
            ])
        let brandnew = executor.starts.filter { $0.job == "brandnew" }
        #expect(brandnew.first == .init(job: "brandnew", trigger: .schedule, at: try date("2026-03-28T13:00:00Z")))
        #expect(brandnew.count == 14)  // 13:00 … 02:00
        #expect(try state.setting("daemon.job_seen.brandnew")?.value == "2026-03-28T12:00:00Z")

        // A restart right after: nothing was missed, nothing runs at start-up.
        let clock2 = SimulationClock(start: try date("2026-03-29T02:10:00Z"), end: try date("2026-03-29T02:20:00Z"))
        let executor2 = RecordingExecutor(clock: clock2, state: state)
        let scheduler2 = JobScheduler(
            agent: Agent(configuration: c, logger: logger), state: state, clock: clock2, executor: executor2)
        let task2 = try await simulate(scheduler2, clock2)
        await scheduler2.stop()
        await task2.value
        #expect(executor2.starts.isEmpty)
    }

    @Test func aStaleJobRaisesAnAlertThenARemindEveryStaleAfterUntilASnapshotArrives() async throws {
        let c = try configuration(
            jobs: """
                  - {name: weekly, schedule: "0 3 * * sun", timezone: UTC, stale_after: 2h, sources: [config], stores: [local]}
                """)
        let state = try StateDatabase(stateDirectory: c.stateDirectory)
        let start = try date("2026-03-23T12:00:00Z")  // a Monday: the next fire is days away
        let clock = SimulationClock(start: start, end: start + 5 * 3600)
        let executor = RecordingExecutor(clock: clock, state: state)
        let scheduler = JobScheduler(
            agent: Agent(configuration: c, logger: logger), state: state, clock: clock, executor: executor)
        let task = try await simulate(scheduler, clock)

        var stale = try state.events(type: "backup.stale")
        #expect(stale.map(\.time) == [start + 2 * 3600, start + 4 * 3600])
        #expect(stale.allSatisfy { $0.level == .alert && $0.attributes["stores"] == "local" })

        // A snapshot arrives (a run by hand); later the job goes stale again, two hours after it.
        let id = try state.beginRun(job: "weekly", trigger: .manual, at: start + 5 * 3600)
        try state.finishRun(
            id, RunOutcome(result: .succeeded, stores: [StoreRunRecord(store: "local", ok: true)]), at: start + 5 * 3600)
        clock.extend(to: start + 8 * 3600)
        await scheduler.reload(Agent(configuration: c, logger: logger))
        try await waitUntilParked(clock)
        await scheduler.stop()
        await task.value
        stale = try state.events(type: "backup.stale")
        #expect(stale.map(\.time) == [start + 2 * 3600, start + 4 * 3600, start + 7 * 3600])
        #expect(executor.starts.isEmpty)
    }

    @Test func aReloadKeepsUnchangedFireTimesAndAClockJumpGivesOneRunNotOnePerMissedFire() async throws {
        let c = try configuration(
            jobs: """
                  - {name: hourly, schedule: "0 * * * *", timezone: UTC, jitter: 10m, sources: [config], stores: [local]}
                """)
        let state = try StateDatabase(stateDirectory: c.stateDirectory)
        let start = try date("2026-06-01T00:05:00Z")
        let clock = SimulationClock(start: start, end: try date("2026-06-01T00:30:00Z"))
        let executor = RecordingExecutor(clock: clock, state: state)
        // Each fire draws a new delay: 1 minute, 2 minutes, …
        let draws = Counter()
        let scheduler = JobScheduler(
            agent: Agent(configuration: c, logger: logger), state: state, clock: clock, executor: executor,
            jitter: { _ in Int64(60 * draws.next()) })
        let task = try await simulate(scheduler, clock)

        // Reloading the same schedule keeps the fire already drawn (01:01); a new job is scheduled.
        let c2 = try configuration(
            jobs: """
                  - {name: hourly, schedule: "0 * * * *", timezone: UTC, jitter: 10m, sources: [config], stores: [local]}
                  - {name: added, schedule: "45 0 * * *", timezone: UTC, sources: [config], stores: [local]}
                """)
        clock.extend(to: try date("2026-06-01T01:30:00Z"))
        await scheduler.reload(Agent(configuration: c2, logger: logger))
        try await waitUntilParked(clock)

        // The machine sleeps five hours: one run when it wakes, then the hourly rhythm again.
        clock.extend(to: try date("2026-06-01T08:30:00Z"), jumpingTo: try date("2026-06-01T06:30:00Z"))
        await scheduler.reload(Agent(configuration: c2, logger: logger))
        try await waitUntilParked(clock)
        await scheduler.stop()
        await task.value

        #expect(
            executor.starts.map { "\($0.job) \(Timestamp.iso8601($0.at))" } == [
                "added 2026-06-01T00:45:00Z",
                "hourly 2026-06-01T01:01:00Z",
                "hourly 2026-06-01T06:30:00Z",  // the fire at 02:00 (drawn +2 min) was due while the clock jumped
                "hourly 2026-06-01T07:03:00Z",
                "hourly 2026-06-01T08:04:00Z",
            ])
    }

    /// Hands out 1, 2, 3, …
    final class Counter: @unchecked Sendable {
        // @unchecked: `value` is only read and written under `lock`.
        private let lock = NSLock()
        private var value = 0

        func next() -> Int {
            lock.withLock {
                value += 1
                return value
            }
        }
    }
}
