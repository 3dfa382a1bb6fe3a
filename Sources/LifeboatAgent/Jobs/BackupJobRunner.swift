import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatSchedule
import LifeboatStores
import Logging

/// Runs one backup job the way every caller must: under the job's lock, recorded in the state
/// database from start to end, then retention on each store that committed the snapshot.
///
/// `lifeboat backup` and the daemon both run jobs through this type; only what they print differs.
/// The state database is optional: a run whose recording fails still runs (the failure is logged,
/// and `lifeboat status` then shows the job as not run, or stale).
///
/// Every run ends with an event in the event log: `backup.succeeded`, `backup.partial` (with an
/// `upload.failed` per store that failed), `backup.failed`, or `backup.skipped` when the job was
/// already running; `retention.pruned` when retention deleted snapshots.
///
/// The job's hooks run under its lock: `pre_backup` first (the first that fails stops the run, which
/// is recorded `failed` with the hook's output, and the backup does not start), `post_backup` after
/// the backup and retention whatever happened, with `LIFEBOAT_RESULT` (`succeeded`, `partial`,
/// `failed`); a failing `post_backup` is recorded and logged but does not change the run's result.
/// Every hook's outcome and bounded output is recorded with the run (`run_hooks`).
public struct BackupJobRunner {
    public var agent: Agent
    public var job: JobConfiguration
    /// The stores to send to: the job's, or a subset of them.
    public var stores: [StoreConfiguration]
    public var trigger: RunTrigger
    public var state: StateDatabase?
    public var progress: (any ProgressObserver)?
    public var clock: any WallClock
    /// Set by the daemon to stop the run when it shuts down; the run is then recorded as interrupted.
    public var cancellation: CancellationFlag?

    public init(
        agent: Agent, job: JobConfiguration, stores: [StoreConfiguration], trigger: RunTrigger, state: StateDatabase?,
        progress: (any ProgressObserver)? = nil, clock: any WallClock = .system, cancellation: CancellationFlag? = nil
    ) {
        self.agent = agent
        self.job = job
        self.stores = stores
        self.trigger = trigger
        self.state = state
        self.progress = progress
        self.clock = clock
        self.cancellation = cancellation
    }

    /// Takes the lock, records the run, backs up, applies retention, records the outcome.
    ///
    /// Throws what the backup throws (after recording the run as failed); a job that is already
    /// running throws `BackupError.Code.busy` after recording a skipped run.
    public func run() throws -> BackupJobReport {
        let lock: JobLock
        do {
            lock = try JobLock(stateDirectory: agent.configuration.stateDirectory, job: job.name)
        } catch let error as BackupError where error.code == .busy {
            record("Skipped run not recorded") {
                try $0.recordSkippedRun(job: job.name, trigger: trigger, at: clock.now(), reason: error.message)
            }
            raise(AgentEvent.backupSkipped, .warning, message: "\(job.name): not started: \(error.message)")
            throw error
        }
        defer { withExtendedLifetime(lock) {} }

        let runID = record("Run start not recorded") {
            try $0.beginRun(job: job.name, trigger: trigger, at: clock.now())
        }
        let report: BackupJobReport
        do {
            try runPreBackupHooks(run: runID)
            report = try backUp(run: runID)
        } catch {
            let cancelled = (error as? BackupError)?.code == .cancelled
            runPostBackupHooks(run: runID, result: .failed, snapshot: nil)
            if let runID {
                var outcome = RunOutcome.failed("\(error)")
                if cancelled { outcome.result = .interrupted }
                record("Run end not recorded") { try $0.finishRun(runID, outcome, at: clock.now()) }
            }
            raise(
                AgentEvent.backupFailed, cancelled ? .warning : .alert,
                attributes: ["error": "\(error)", "result": cancelled ? "interrupted" : "failed"],
                message: "\(job.name): backup \(cancelled ? "interrupted" : "failed"): \(error)")
            throw error
        }
        runPostBackupHooks(run: runID, result: report.runResult, snapshot: report.result.snapshot.rawValue)
        if let runID {
            record("Run end not recorded") { try $0.finishRun(runID, report.outcome, at: clock.now()) }
        }
        raiseEvents(for: report)
        record("Old history not pruned") { try $0.pruneHistory(now: clock.now()) }
        return report
    }

    /// The environment every hook of this run gets, besides `LIFEBOAT_HOOK`.
    private var hookEnvironment: [String: String] {
        ["LIFEBOAT_JOB": job.name, "LIFEBOAT_HOST": agent.configuration.host, "LIFEBOAT_TRIGGER": trigger.rawValue]
    }

    /// Runs `pre_backup`; throws when one fails (the backup must not start).
    private func runPreBackupHooks(run: RunID?) throws {
        guard !job.preBackup.isEmpty else { return }
        let outcomes = HookRunner(logger: agent.logger, cancellation: cancellation).run(
            job.preBackup, phase: .preBackup, environment: hookEnvironment, stopOnFailure: true,
            record: { outcome in recordHook(outcome, run: run) })
        if let failed = outcomes.first(where: { !$0.ok }) {
            if let reason = cancellation?.cancellationReason {
                throw BackupError(.cancelled, "the run was stopped during \(failed.phase): \(reason)")
            }
            throw BackupError(.sourceUnreadable, "\(failed.summary); the backup did not run")
        }
    }

    /// Runs `post_backup` with the run's result; failures are recorded and logged, never thrown.
    private func runPostBackupHooks(run: RunID?, result: RunResult, snapshot: String?) {
        guard !job.postBackup.isEmpty else { return }
        var environment = hookEnvironment
        // The run's result as the hook sees it: an interrupted run did not succeed.
        environment["LIFEBOAT_RESULT"] = result == .succeeded || result == .partial ? result.rawValue : "failed"
        if let snapshot { environment["LIFEBOAT_SNAPSHOT"] = snapshot }
        // Not cancellable: whatever pre_backup stopped must be started again, also on shutdown.
        _ = HookRunner(logger: agent.logger).run(
            job.postBackup, phase: .postBackup, environment: environment, stopOnFailure: false,
            record: { outcome in recordHook(outcome, run: run) })
    }

    private func recordHook(_ outcome: HookOutcome, run: RunID?) {
        guard let run else { return }
        record("Hook not recorded") { try $0.recordHook(outcome, run: run) }
    }

    private func raiseEvents(for report: BackupJobReport) {
        let snapshot = ["snapshot": report.result.snapshot.rawValue, "archive": report.result.archiveName]
        for outcome in report.result.outcomes {
            guard let error = outcome.error else { continue }
            raise(
                AgentEvent.uploadFailed, .warning, attributes: ["store": outcome.store, "error": error],
                message: "\(job.name): the snapshot did not reach store \(outcome.store): \(error)")
        }
        for (store, ids) in report.pruned.sorted(by: { $0.key < $1.key }) where !ids.isEmpty {
            raise(
                AgentEvent.retentionPruned, .information,
                attributes: ["store": store, "count": "\(ids.count)", "snapshots": ids.joined(separator: " ")],
                message: "\(job.name): retention deleted \(ids.count) snapshot(s) on \(store)")
        }
        let committed = report.result.outcomes.filter(\.succeeded).map(\.store)
        var attributes = snapshot
        attributes["bytes"] = "\(report.result.sidecar.archive.size)"
        attributes["stores"] = committed.joined(separator: " ")
        switch report.runResult {
        case .succeeded:
            raise(
                AgentEvent.backupSucceeded, .information, attributes: attributes,
                message: "\(job.name): snapshot \(report.result.snapshot) committed on \(committed.joined(separator: ", "))")
        default:
            attributes["error"] = report.outcome.error
            raise(
                AgentEvent.backupPartial, .warning, attributes: attributes,
                message: "\(job.name): snapshot \(report.result.snapshot) is not everywhere: \(report.outcome.error ?? "")")
        }
    }

    /// Records an event about this job (with `job` and `trigger` attributes) in the event log.
    private func raise(
        _ type: String, _ level: EventLevel, attributes: [String: String] = [:], message: String
    ) {
        var attributes = attributes
        attributes["job"] = job.name
        attributes["trigger"] = trigger.rawValue
        let event = Event(
            type: type, level: level, time: clock.now(), source: "agent", attributes: attributes, message: message)
        record("Event not recorded") { try $0.recordEvent(event) }
    }

    private func backUp(run: RunID?) throws -> BackupJobReport {
        let made = try stores.map(agent.makeStore)
        let runner = BackupRunner(
            plan: agent.plan(for: job), stores: made, logger: agent.logger, progress: progress,
            now: { [clock] in clock.now() }, cancellation: cancellation)
        let result = try runner.run()

        // Retention, only on stores where the new snapshot is committed and checked.
        var retentionErrors: [String: String] = [:]
        var pruned: [String: [String]] = [:]
        for (config, store) in zip(stores, made) where !config.retention.isEmpty {
            guard result.outcomes.first(where: { $0.store == config.name })?.succeeded == true else { continue }
            do {
                let decisions = try Pruner(
                    store: store,
                    prefix: ObjectNaming(prefix: "").jobPrefix(host: agent.configuration.host, job: job.name),
                    policy: config.retention, logger: agent.logger
                ).run(now: clock.now(), dryRun: false, verifiedNewest: result.snapshot)
                pruned[config.name] = decisions.filter { !$0.keep }.map(\.entry.id.rawValue)
            } catch {
                retentionErrors[config.name] = "\(error)"
            }
        }
        return BackupJobReport(run: run, result: result, pruned: pruned, retentionErrors: retentionErrors)
    }

    /// Runs `body` on the state database, if there is one; a failure is logged, never thrown.
    @discardableResult
    private func record<T>(_ message: Logger.Message, _ body: (StateDatabase) throws -> T) -> T? {
        guard let state else { return nil }
        do {
            return try body(state)
        } catch {
            agent.logger.warning(message, metadata: ["job": "\(job.name)", "error": "\(error)"])
            return nil
        }
    }
}

/// What a backup job run produced.
public struct BackupJobReport: Sendable {
    /// The run's id in the state database, when it was recorded.
    public var run: RunID?
    public var result: BackupResult
    /// Snapshot ids deleted by retention, per store.
    public var pruned: [String: [String]]
    /// Retention failures (after a good backup), per store.
    public var retentionErrors: [String: String]

    /// The run's result: a backup that succeeded everywhere but whose retention failed is partial.
    public var runResult: RunResult {
        switch result.status {
        case .succeeded: retentionErrors.isEmpty ? .succeeded : .partial
        case .partial: .partial
        case .failed: .failed
        }
    }

    /// The exit status of `lifeboat backup` for this run.
    public var exitStatus: ExitStatus {
        switch runResult {
        case .succeeded: .success
        case .partial: .partial
        default: .failure
        }
    }

    /// The record of this run in the state database.
    public var outcome: RunOutcome {
        let failures =
            result.outcomes.compactMap { o in o.error.map { "\(o.store): \($0)" } }
            + retentionErrors.sorted { $0.key < $1.key }.map { "\($0.key): retention: \($0.value)" }
        return RunOutcome(
            result: runResult, snapshot: result.snapshot.rawValue, archive: result.archiveName,
            archiveBytes: result.sidecar.archive.size, error: failures.isEmpty ? nil : failures.joined(separator: "; "),
            stores: result.outcomes.map { o in
                StoreRunRecord(
                    store: o.store, ok: o.succeeded, verification: o.verification, error: o.error,
                    bytes: o.succeeded ? result.sidecar.archive.size : nil, retentionError: retentionErrors[o.store],
                    pruned: pruned[o.store]?.count ?? 0)
            })
    }
}
