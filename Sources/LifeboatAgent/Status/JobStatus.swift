import Foundation
import LifeboatCore
import LifeboatSchedule

/// Where a job stands: its schedule and next fire time, its last run, the newest snapshot on each of
/// its stores, and whether that is too old (`stale_after`).
///
/// Built from the configuration and the state database alone (no store is contacted), so it is
/// cheap: `lifeboat status`, the daemon's stale check and its metrics all use it.
public struct JobStatus: Sendable {
    /// How fresh the newest snapshot on one store is.
    public struct StoreStatus: Sendable {
        public var store: String
        /// The newest run that committed a snapshot of this job there, or nil.
        public var lastSuccess: StoreSuccess?
        public var staleness: Staleness
    }

    public var job: String
    /// The cron expression, or nil for a job that runs only when started by hand.
    public var schedule: String?
    /// The zone the schedule is read in (`timezone`, else the machine's).
    public var timeZone: TimeZone
    /// The zone's name as configured (Foundation may call `UTC` `GMT`).
    public var timeZoneName: String
    /// Why the schedule cannot be used, when it cannot.
    public var scheduleError: String?
    /// The next fire time after `now`.
    public var nextRun: Date?
    /// `stale_after` in seconds.
    public var staleAfter: Int64?
    /// The run going on now, if any.
    public var running: RunRecord?
    /// The newest run that ended (or was interrupted); skipped runs do not count.
    public var lastRun: RunRecord?
    /// The newest run that succeeded on every store.
    public var lastSuccess: RunRecord?
    /// One entry per store of the job, in the job's order.
    public var stores: [StoreStatus]
    /// The newest runs, newest first (as many as asked for).
    public var recentRuns: [RunRecord]
    /// The last restore drill (`jobs[].drill`), if one ran.
    public var lastDrill: DrillReport?

    /// Builds the status of `job` at `now`; `state` nil means no run was ever recorded.
    public init(job: JobConfiguration, state: StateDatabase?, now: Date, recentRuns: Int = 0) throws {
        self.job = job.name
        schedule = job.schedule
        timeZone = job.scheduleTimeZone
        timeZoneName = job.timezone ?? timeZone.identifier
        staleAfter = job.staleAfter
        do {
            nextRun = try job.cronSchedule()?.nextFire(after: now)
            if job.schedule != nil && nextRun == nil { scheduleError = "the schedule never fires" }
        } catch {
            scheduleError = "\(error)"
        }
        running = try state?.runningRuns(job: job.name).first
        lastRun = try state?.lastFinishedRun(job: job.name)
        lastSuccess = try state?.lastSuccess(job: job.name)
        self.recentRuns = recentRuns > 0 ? try state?.lastRuns(job: job.name, limit: recentRuns) ?? [] : []
        lastDrill = try state.flatMap { try DrillRunner.last(job: job.name, state: $0) }
        let successes = try state?.lastSuccessPerStore(job: job.name) ?? [:]
        stores = job.stores.map { store in
            let success = successes[store]
            return StoreStatus(
                store: store, lastSuccess: success,
                staleness: Staleness(lastSuccess: success?.endedAt, staleAfter: job.staleAfter, now: now))
        }
    }

    /// True when any store of the job has had no snapshot for longer than `stale_after`.
    public var isStale: Bool { stores.contains { $0.staleness.isStale } }

    /// Since when the job is stale: the earliest moment a store that is stale now became so; nil when
    /// the job is not stale, or a stale store never had a snapshot.
    public var staleSince: Date? {
        let stale = stores.filter(\.staleness.isStale)
        guard !stale.isEmpty, stale.allSatisfy({ $0.staleness.since != nil }) else { return nil }
        return stale.compactMap(\.staleness.since).min()
    }

    /// What needs attention, one sentence each; empty when the job is fine.
    ///
    /// A job needs attention when its schedule is unusable, its last run failed, was partial or was
    /// interrupted, its last restore drill failed, or it is stale. A job that never ran is fine unless it has `stale_after`.
    public var problems: [String] {
        var result: [String] = []
        if let scheduleError { result.append("schedule \"\(schedule ?? "")\": \(scheduleError)") }
        if let lastRun, lastRun.result.needsAttention {
            var text = "last run \(lastRun.id) (\(lastRun.trigger), started \(Timestamp.iso8601(lastRun.startedAt))): "
            if lastRun.result == .interrupted {
                text += lastRun.error ?? "interrupted"
            } else {
                text += lastRun.result.rawValue + (lastRun.error.map { ": \($0)" } ?? "")
            }
            result.append(text)
        }
        if let lastDrill, !lastDrill.passed {
            result.append(
                "restore drill of \(lastDrill.started) failed: "
                    + lastDrill.stores.filter { $0.result != "passed" }.map { "\($0.store): \($0.error ?? "failed")" }
                    .joined(separator: "; "))
        }
        for store in stores where store.staleness.isStale {
            let limit = DurationText.render(staleAfter ?? 0)
            if let success = store.lastSuccess {
                result.append(
                    "store \(store.store): stale: no snapshot for more than \(limit) (the newest is from \(Timestamp.iso8601(success.endedAt)))"
                )
            } else {
                result.append("store \(store.store): stale: no snapshot of this job yet (stale_after \(limit))")
            }
        }
        return result
    }

    /// True when nothing needs attention.
    public var isOK: Bool { problems.isEmpty }
}

/// Whether the newest snapshot is older than `stale_after`.
public struct Staleness: Sendable, Hashable {
    public var isStale: Bool
    /// When it became stale (the newest success plus `stale_after`); nil when not stale, or when there
    /// never was a success.
    public var since: Date?

    public init(isStale: Bool, since: Date?) {
        self.isStale = isStale
        self.since = since
    }

    /// Without `stale_after` nothing is stale; with it, no success at all is stale.
    public init(lastSuccess: Date?, staleAfter: Int64?, now: Date) {
        guard let staleAfter else {
            self.init(isStale: false, since: nil)
            return
        }
        guard let lastSuccess else {
            self.init(isStale: true, since: nil)
            return
        }
        let limit = lastSuccess.addingTimeInterval(TimeInterval(staleAfter))
        self.init(isStale: now > limit, since: now > limit ? limit : nil)
    }
}
