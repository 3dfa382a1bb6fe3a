import Foundation
import LifeboatCore
import LifeboatSchedule
import Logging

/// Starts runs of the daemon's jobs; the scheduler asks it whether a job is still running.
public protocol JobExecutor: AnyObject, Sendable {
    /// Whether a run of `job` that this executor started is still going.
    func isRunning(_ job: String) -> Bool
    /// Starts a run of `job` and returns at once.
    func start(_ job: JobConfiguration, trigger: RunTrigger, agent: Agent)
}

/// The daemon's timetable: sleeps until the next thing is due, then starts runs, records skipped
/// ones, and raises `backup.stale`.
///
/// - **Fire times** come from each job's `CronSchedule` (its zone and DST rules); `jitter` delays each
///   start by a random amount up to that many seconds. Between fires nothing runs: the scheduler
///   sleeps until the earliest due instant (re-reading the wall clock at least every five minutes).
/// - **No overlap**: a fire that comes while the job's previous run is still going is recorded as a
///   `skipped` run with a `backup.skipped` event; the next fire is scheduled as usual.
/// - **Missed runs**: at start-up, a job whose schedule fired since its last recorded run (or since the
///   daemon first saw the job) runs once at once (`catch-up`), however many fires were missed. A clock
///   that jumps forward while the daemon runs is treated the same way: one run, not one per missed fire.
/// - **Staleness**: a job with `stale_after` whose newest snapshot on some store is older than that
///   (or that has none, counted from when the daemon first saw the job) raises `backup.stale`, and
///   again every `stale_after` while it stays stale.
/// - **Reload** keeps the fire times of jobs whose schedule did not change.
public actor JobScheduler {
    /// The next fire of one job.
    struct Entry: Equatable {
        var schedule: String
        var timeZone: String
        /// The cron fire time.
        var fire: Date
        /// When the run starts: the fire time plus jitter.
        var due: Date
    }

    private var agent: Agent
    private let state: StateDatabase
    private let clock: any SleepingClock
    private let executor: any JobExecutor
    /// A random delay in `0...max` seconds.
    private let jitter: @Sendable (Int64) -> Int64
    private var logger: Logger { agent.logger }

    private var entries: [String: Entry] = [:]
    private var sleeper: Task<Void, any Error>?
    private var stopping = false
    private var started = false

    public init(
        agent: Agent, state: StateDatabase, clock: any SleepingClock, executor: any JobExecutor,
        jitter: @escaping @Sendable (Int64) -> Int64 = { $0 > 0 ? Int64.random(in: 0...$0) : 0 }
    ) {
        self.agent = agent
        self.state = state
        self.clock = clock
        self.executor = executor
        self.jitter = jitter
    }

    /// Runs until `stop()`: catch-up first, then every fire on time.
    public func run() async {
        guard !stopping else { return }
        let now = clock.now()
        catchUp(now: now)
        for job in agent.configuration.jobs { schedule(job, after: now) }
        started = true
        while !stopping {
            let now = clock.now()
            fireDue(now: now)
            checkStaleness(now: now)
            guard !stopping else { break }
            await sleep(until: nextWake(now: now))
        }
    }

    /// Stops waiting at once; `run()` returns. Runs already started go on (the daemon bounds them).
    public func stop() {
        stopping = true
        sleeper?.cancel()
    }

    /// Takes a new configuration: new and changed jobs are scheduled afresh, removed ones dropped.
    public func reload(_ agent: Agent) {
        self.agent = agent
        guard started else { return }
        let now = clock.now()
        let names = Set(agent.configuration.jobs.map(\.name))
        entries = entries.filter { names.contains($0.key) }
        for job in agent.configuration.jobs {
            if let entry = entries[job.name], entry.schedule == job.schedule, entry.timeZone == job.scheduleTimeZone.identifier {
                continue
            }
            schedule(job, after: now)
        }
        sleeper?.cancel()
    }

    /// The next start of each scheduled job, for status lines.
    public func upcoming() -> [(job: String, at: Date)] {
        entries.map { ($0.key, $0.value.due) }.sorted { $0.at < $1.at }
    }

    /// Returns at once: proves to the watchdog that the scheduler is not stuck.
    public func heartbeat() -> Bool { !stopping }

    // MARK: - Timetable

    private func schedule(_ job: JobConfiguration, after date: Date) {
        firstSeen(job.name, now: clock.now())
        let cron: CronSchedule?
        do {
            cron = try job.cronSchedule()
        } catch {
            logger.error("Job schedule unusable", metadata: ["job": "\(job.name)", "error": "\(error)"])
            entries[job.name] = nil
            return
        }
        guard let cron, let fire = cron.nextFire(after: date) else {
            entries[job.name] = nil
            return
        }
        let delay = job.jitter > 0 ? max(0, min(jitter(job.jitter), job.jitter)) : 0
        entries[job.name] = Entry(
            schedule: job.schedule ?? "", timeZone: job.scheduleTimeZone.identifier, fire: fire,
            due: fire.addingTimeInterval(TimeInterval(delay)))
    }

    private func fireDue(now: Date) {
        for job in agent.configuration.jobs {
            guard let entry = entries[job.name], entry.due <= now else { continue }
            if executor.isRunning(job.name) {
                skip(job, fire: entry.fire, now: now)
            } else {
                logger.info(
                    "Scheduled run starts", metadata: ["job": "\(job.name)", "fire": "\(Timestamp.iso8601(entry.fire))"])
                executor.start(job, trigger: .schedule, agent: agent)
            }
            // The next fire after this one; fires the clock jumped over collapse into this run.
            schedule(job, after: max(entry.fire, now))
        }
    }

    private func skip(_ job: JobConfiguration, fire: Date, now: Date) {
        let reason = "the run that started earlier is still going at the fire time \(Timestamp.iso8601(fire))"
        logger.warning("Scheduled run skipped", metadata: ["job": "\(job.name)", "reason": "\(reason)"])
        do {
            try state.recordSkippedRun(job: job.name, trigger: .schedule, at: now, reason: reason)
            try state.recordEvent(
                Event(
                    type: AgentEvent.backupSkipped, level: .warning, time: now, source: "agent",
                    attributes: ["job": job.name, "trigger": RunTrigger.schedule.rawValue, "fire": Timestamp.iso8601(fire)],
                    message: "\(job.name): scheduled run not started: \(reason)"))
        } catch {
            logger.error("Skipped run not recorded", metadata: ["job": "\(job.name)", "error": "\(error)"])
        }
    }

    private func catchUp(now: Date) {
        for job in agent.configuration.jobs {
            guard let cron = try? job.cronSchedule() else { continue }
            let since: Date
            do {
                if let last = try state.lastRuns(job: job.name, limit: 1).first {
                    since = last.startedAt
                } else if let seen = try firstSeenDate(job.name) {
                    since = seen
                } else {
                    continue  // never seen before: nothing was missed
                }
            } catch {
                logger.error("Cannot read the job's last run", metadata: ["job": "\(job.name)", "error": "\(error)"])
                continue
            }
            guard let missed = cron.missedFire(since: since, until: now), !executor.isRunning(job.name) else { continue }
            logger.notice(
                "Running a missed run", metadata: ["job": "\(job.name)", "missed": "\(Timestamp.iso8601(missed))"])
            executor.start(job, trigger: .catchUp, agent: agent)
        }
    }

    // MARK: - Staleness

    /// When each job with `stale_after` next needs a look, and whether it is stale now.
    private func staleness(of job: JobConfiguration, now: Date) -> (stale: [String], nextCheck: Date?)? {
        guard let staleAfter = job.staleAfter else { return nil }
        let limit = TimeInterval(staleAfter)
        do {
            let successes = try state.lastSuccessPerStore(job: job.name)
            let seen = try firstSeenDate(job.name) ?? now
            var stale: [String] = []
            var nextCheck: Date?
            for store in job.stores {
                let deadline = (successes[store]?.endedAt ?? seen).addingTimeInterval(limit)
                if now >= deadline {
                    stale.append(store)
                } else {
                    nextCheck = min(nextCheck ?? deadline, deadline)
                }
            }
            if !stale.isEmpty, let raised = try raisedStale(job.name) {
                let reminder = raised.addingTimeInterval(limit)
                nextCheck = min(nextCheck ?? reminder, reminder)
            }
            return (stale, nextCheck)
        } catch {
            logger.error("Cannot check staleness", metadata: ["job": "\(job.name)", "error": "\(error)"])
            return nil
        }
    }

    private func checkStaleness(now: Date) {
        for job in agent.configuration.jobs {
            guard let (stale, _) = staleness(of: job, now: now), let staleAfter = job.staleAfter else { continue }
            let key = "daemon.stale_raised." + job.name
            do {
                if stale.isEmpty {
                    if try state.setting(key) != nil { try state.removeSetting(key) }
                    continue
                }
                if let raised = try raisedStale(job.name), now < raised.addingTimeInterval(TimeInterval(staleAfter)) {
                    continue
                }
                let limit = DurationText.render(staleAfter)
                try state.recordEvent(
                    Event(
                        type: AgentEvent.backupStale, level: .alert, time: now, source: "agent",
                        attributes: ["job": job.name, "stores": stale.joined(separator: " "), "stale_after": limit],
                        message: "\(job.name): no snapshot for more than \(limit) on \(stale.joined(separator: ", "))"))
                try state.setSetting(key, to: Timestamp.iso8601(now), at: now)
                logger.error("Backup stale", metadata: ["job": "\(job.name)", "stores": "\(stale)"])
            } catch {
                logger.error("Stale event not recorded", metadata: ["job": "\(job.name)", "error": "\(error)"])
            }
        }
    }

    private func raisedStale(_ job: String) throws -> Date? {
        try state.setting("daemon.stale_raised." + job).flatMap { Timestamp.parseISO8601($0.value) }
    }

    // MARK: - Waiting

    private func nextWake(now: Date) -> Date? {
        var wake = entries.values.map(\.due).min()
        for job in agent.configuration.jobs {
            if let next = staleness(of: job, now: now)?.nextCheck { wake = min(wake ?? next, next) }
        }
        return wake
    }

    private func sleep(until wake: Date?) async {
        let clock = self.clock
        let task = Task { try await clock.sleep(until: wake ?? Date.distantFuture) }
        sleeper = task
        _ = await task.result
        sleeper = nil
    }

    // MARK: - First sight of a job

    /// Remembers when the daemon first saw `job`: missed runs and staleness count from then.
    private func firstSeen(_ job: String, now: Date) {
        do {
            try state.updateSetting("daemon.job_seen." + job, at: now) { $0 ?? Timestamp.iso8601(now) }
        } catch {
            logger.error("Cannot record a new job", metadata: ["job": "\(job)", "error": "\(error)"])
        }
    }

    private func firstSeenDate(_ job: String) throws -> Date? {
        try state.setting("daemon.job_seen." + job).flatMap { Timestamp.parseISO8601($0.value) }
    }
}
