import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatSchedule

/// Runs each backup on a thread of its own (the pipeline blocks in libcurl, libssh and libarchive),
/// through `BackupJobRunner`, so the daemon's runs are locked, recorded and pruned like
/// `lifeboat backup`'s.
public final class ThreadJobExecutor: JobExecutor, @unchecked Sendable {
    // @unchecked: `running` and `waiters` are only read and written under `lock`.
    private let lock = NSLock()
    private var running: [String: CancellationFlag] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private let state: StateDatabase
    private let clock: any WallClock
    /// Called (on the run's thread) when a run starts or ends, e.g. to update systemd's status line.
    private let onChange: @Sendable () -> Void

    public init(state: StateDatabase, clock: any WallClock = .system, onChange: @escaping @Sendable () -> Void = {}) {
        self.state = state
        self.clock = clock
        self.onChange = onChange
    }

    public func isRunning(_ job: String) -> Bool {
        lock.withLock { running[job] != nil }
    }

    /// The jobs running now, by name.
    public var runningJobs: [String] {
        lock.withLock { running.keys.sorted() }
    }

    public func start(_ job: JobConfiguration, trigger: RunTrigger, agent: Agent) {
        let flag = CancellationFlag()
        let added = lock.withLock {
            guard running[job.name] == nil else { return false }
            running[job.name] = flag
            return true
        }
        guard added else { return }
        onChange()
        let state = self.state
        let clock = self.clock
        let thread = Thread { [self] in
            let runner = BackupJobRunner(
                agent: agent, job: job, stores: job.stores.compactMap { agent.configuration.store(named: $0) },
                trigger: trigger, state: state, clock: clock, cancellation: flag)
            do {
                let report = try runner.run()
                agent.logger.notice(
                    "Run finished",
                    metadata: [
                        "job": "\(job.name)", "result": "\(report.runResult)", "snapshot": "\(report.result.snapshot)",
                    ])
            } catch {
                agent.logger.error("Run failed", metadata: ["job": "\(job.name)", "error": "\(error)"])
            }
            finished(job.name)
        }
        thread.name = "lifeboat-job-\(job.name)"
        thread.start()
    }

    private func finished(_ job: String) {
        let resumed = lock.withLock {
            running[job] = nil
            let resumed = waiters
            waiters = []
            return resumed
        }
        resumed.forEach { $0.resume() }
        onChange()
    }

    /// Asks every running job to stop: each aborts its uploads and is recorded as interrupted.
    public func cancelAll(reason: String) {
        lock.withLock { running.values.forEach { $0.cancel(reason: reason) } }
    }

    /// Waits until no job runs, or `seconds` pass; returns whether all ended.
    public func waitForAll(seconds: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if lock.withLock({ running.isEmpty }) { return true }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return false }
            // Woken by the next run that ends, or by the deadline.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [self] in await nextEnd() }
                group.addTask { try? await Task.sleep(nanoseconds: UInt64(remaining * 1e9)) }
                await group.next()
                group.cancelAll()
                wakeWaiters()
            }
        }
    }

    private func nextEnd() async {
        await withCheckedContinuation { continuation in
            let already = lock.withLock {
                if running.isEmpty { return true }
                waiters.append(continuation)
                return false
            }
            if already { continuation.resume() }
        }
    }

    private func wakeWaiters() {
        let resumed = lock.withLock {
            let resumed = waiters
            waiters = []
            return resumed
        }
        resumed.forEach { $0.resume() }
    }
}
