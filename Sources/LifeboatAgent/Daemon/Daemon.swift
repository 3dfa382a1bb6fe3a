import Foundation
import LifeboatCore
import LifeboatFirmware
import LifeboatNotify
import LifeboatSchedule
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// `lifeboat daemon`: runs every job on its schedule until SIGTERM, with the API listener when `api`
/// is configured.
///
/// - SIGTERM or SIGINT: stop waiting at once; a running job gets `shutdown_grace` to finish, then it
///   is cancelled (its uploads are aborted, nothing is left under a final name, the run is recorded
///   as interrupted); exit 0.
/// - SIGHUP: read the configuration again. A configuration that does not load is refused with a
///   `config.refused` event and the old one keeps running; a good one is taken with `config.reloaded`.
///   `state_dir` and `api` cannot change without a restart.
/// - systemd (`Type=notify`): `READY=1` once the schedule runs and the listener is up, `STATUS=` with
///   what runs and what is next, `WATCHDOG=1` while the scheduler answers, `STOPPING=1` at shutdown.
public final class Daemon: Sendable {
    private let configPath: String
    private let logger: Logger
    private let state: StateDatabase
    private let current: APIServer.Current
    private let scheduler: JobScheduler
    private let executor: ThreadJobExecutor
    private let systemd: SystemdNotifier
    private let clock: SystemWallClock
    private let relay = RelayHolder()

    public init(configuration: Configuration, configPath: String, logger: Logger) throws {
        self.configPath = configPath
        self.logger = logger
        clock = SystemWallClock()
        state = try StateDatabase(stateDirectory: configuration.stateDirectory)
        current = APIServer.Current(configuration)
        systemd = SystemdNotifier()
        let box = StatusBox()
        executor = ThreadJobExecutor(state: state, clock: clock) { box.changed() }
        scheduler = JobScheduler(
            agent: Agent(configuration: configuration, logger: logger), state: state, clock: clock, executor: executor)
        box.daemon = self
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() async throws -> ExitStatus {
        let configuration = current.configuration
        for run in state.interruptedAtOpen {
            logger.warning("A run was interrupted", metadata: ["job": "\(run.job)", "run": "\(run.id)"])
        }
        // Trap SIGHUP before anything else, so an early reload request cannot end the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let gate = StartupGate(waitingFor: configuration.api == nil ? 1 : 2) { [self] in
            systemd.ready(status: await statusLine())
            record(AgentEvent.daemonStarted, .information, "Lifeboat \(Agent.version) daemon started", [:])
            logger.notice("Daemon ready", metadata: ["jobs": "\(current.configuration.jobs.map(\.name))"])
        }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let api = configuration.api {
            let application = APIServer.application(
                api: api, current: current, state: state, events: EventRecorder(state: state), logger: logger,
                onServerRunning: { await gate.arrive() })
            services.append(
                .init(
                    service: ListenerService(application: application, address: "\(api.host):\(api.port)"),
                    successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "api"))
        }
        relay.apply(configuration, state: state, logger: logger)
        let schedulerService = SchedulerService(daemon: self, hangups: hangups, gate: gate)
        // Last in the list: shut down first on SIGTERM (then the listener), so status stays visible meanwhile.
        services.append(.init(service: schedulerService, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "scheduler"))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return .success
    }

    // MARK: - Services

    /// The API listener; a failure (such as the port being taken) names the `api.listen` address.
    struct ListenerService<Application: ApplicationProtocol>: Service {
        let application: Application
        let address: String

        func run() async throws {
            do {
                try await application.run()
            } catch {
                throw CommandError(.failure, "api.listen \(address): cannot serve: \(error)")
            }
        }
    }

    /// Runs the scheduler, the SIGHUP and watchdog loops, and the bounded shutdown.
    struct SchedulerService: Service {
        let daemon: Daemon
        let hangups: UnixSignalsSequence
        let gate: StartupGate

        func run() async throws {
            let scheduler = daemon.scheduler
            // Stop on SIGTERM, and when the group is cancelled (another service, such as the listener, failed).
            await withTaskCancellationOrGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await scheduler.run() }
                    group.addTask { [hangups, daemon] in
                        for await _ in hangups { await daemon.reload() }
                    }
                    group.addTask { [daemon] in await daemon.firmwareLoop() }
                    group.addTask { [daemon] in await daemon.drillLoop() }
                    if let interval = daemon.systemd.watchdogInterval {
                        group.addTask { [daemon] in await daemon.watchdog(every: interval) }
                    }
                    group.addTask { [gate] in await gate.arrive() }
                    // The scheduler returns only when stopped; then the loops end too.
                    while let _ = await group.next() {
                        if await !scheduler.heartbeat() { break }
                    }
                    group.cancelAll()
                }
            } onCancelOrGracefulShutdown: { [daemon] in
                daemon.systemd.stopping(status: "Stopping")
                Task { await scheduler.stop() }
            }
            // In a task of its own: after a cancellation, the waits inside must still wait.
            await Task { await daemon.finishRunningJobs() }.value
            daemon.relay.stop(waitingUpTo: Daemon.relayStopBound)
        }
    }

    private func watchdog(every interval: TimeInterval) async {
        while !Task.isCancelled {
            // Only a scheduler that answers counts as alive.
            if await scheduler.heartbeat() { systemd.watchdog() }
            try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
        }
    }

    /// Checks the firmware feed at each fire of `firmware.check_schedule`, as the configuration of
    /// the moment says (a reload takes effect within a minute). With `mode: install`, an install a
    /// crash interrupted is continued at start-up, and an available release is installed — at once
    /// when the window is open, else when it opens. Checks and installs run on a thread of their own.
    private func firmwareLoop() async {
        var reference = clock.now()
        var installAt: Date?
        if let firmware = current.configuration.firmware, firmware.install != nil {
            let agent = Agent(configuration: current.configuration, logger: logger)
            installAt = await onThread { [state, logger] () -> Date? in
                do {
                    guard let outcome = try FirmwareInstallation.resume(agent: agent, firmware: firmware, state: state)
                    else { return nil }
                    logger.notice("Interrupted firmware install continued", metadata: ["outcome": "\(FirmwareInstallation.describe(outcome))"])
                    if case .waitingForWindow(let until) = outcome { return until }
                } catch {
                    logger.error("Cannot continue the interrupted firmware install", metadata: ["error": "\(error)"])
                }
                return nil
            } ?? nil
        }
        while !Task.isCancelled {
            let configuration = current.configuration
            let now = clock.now()
            let nextCheck = configuration.firmware?.checkSchedule?.nextFire(after: reference)
            let checkDue = nextCheck.map { $0 <= now } ?? false
            let installDue = configuration.firmware?.install != nil && (installAt.map { $0 <= now } ?? false)
            guard let firmware = configuration.firmware, checkDue || installDue else {
                await Self.sleep(until: [nextCheck, installAt].compactMap { $0 }.min(), now: now)
                continue
            }
            if checkDue { reference = now }
            let agent = Agent(configuration: configuration, logger: logger)
            let waiting = installAt
            installAt = await onThread { [state, logger] () -> Date? in
                do {
                    var result: FirmwareCheckResult?
                    if checkDue {
                        let checked = try FirmwareChecker.check(agent: agent, firmware: firmware, state: state)
                        logger.notice(
                            "Firmware feed checked",
                            metadata: [
                                "status": "\(checked.status.rawValue)", "available": "\(checked.available ?? "-")",
                                "reason": "\(checked.reason ?? "-")",
                            ])
                        result = checked
                    }
                    guard firmware.install != nil else { return nil }
                    guard let last = try result ?? FirmwareChecker.lastCheck(state: state),
                        let release = FirmwareChecker.release(of: last)
                    else { return checkDue ? nil : waiting }
                    // A release that was rolled back here is not tried again on its own, night after
                    // night: `lifeboat firmware install` tries it again by hand.
                    if let record = try FirmwareInstallation.record(state: state), record.step == .rolledBack,
                        record.version == release.version
                    {
                        logger.notice(
                            "Firmware not installed again: it was rolled back",
                            metadata: ["version": "\(release.version)", "when": "\(Timestamp.iso8601(record.updatedAt))"])
                        return nil
                    }
                    let outcome = try FirmwareInstallation.install(
                        release: release, agent: agent, firmware: firmware, state: state)
                    logger.notice("Firmware install", metadata: ["outcome": "\(FirmwareInstallation.describe(outcome))"])
                    if case .waitingForWindow(let until) = outcome { return until }
                } catch {
                    logger.error("Firmware check or install failed", metadata: ["error": "\(error)"])
                }
                return nil
            } ?? nil
        }
    }

    /// Runs each job's restore drill at the fires of `drill.schedule`, one drill at a time, as the
    /// configuration of the moment says (a reload takes effect within a minute).
    private func drillLoop() async {
        var since: [String: Date] = [:]
        let started = clock.now()
        while !Task.isCancelled {
            let configuration = current.configuration
            let now = clock.now()
            var due: [JobConfiguration] = []
            var next: Date?
            for job in configuration.jobs {
                guard let drill = job.drill,
                    let schedule = try? CronSchedule(
                        parsing: drill.schedule,
                        timeZoneIdentifier: drill.timezone ?? job.timezone ?? TimeZone.current.identifier),
                    let fire = schedule.nextFire(after: since[job.name] ?? started)
                else { continue }
                if fire <= now { due.append(job) } else { next = min(next ?? fire, fire) }
            }
            guard !due.isEmpty else {
                await Self.sleep(until: next, now: now)
                continue
            }
            for job in due {
                since[job.name] = now
                let agent = Agent(configuration: configuration, logger: logger)
                guard let report = await onThread({ [state] in
                    DrillRunner.run(agent: agent, job: job, drill: job.drill, state: state)
                }) else { return }
                logger.notice("Restore drill", metadata: ["job": "\(job.name)", "result": "\(report.result)"])
            }
        }
    }

    /// Sleeps until `due`, but 1 s at least and a minute at most, so that the firmware and drill loops
    /// see a reloaded configuration within a minute.
    private static func sleep(until due: Date?, now: Date) async {
        let wait = min(max(due.map { $0.timeIntervalSince(now) } ?? 60, 1), 60)
        try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
    }

    /// Runs blocking work on a thread of its own and returns its result; nil at once when the task is
    /// cancelled (shutdown), while the work goes on until the process ends. Firmware installs are
    /// journalled and resumed at the next start; a drill's scratch folder is removed by the next drill.
    private func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T? {
        let once = ResumeOnce<T?>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
                once.attach(continuation)
                Thread { once.resume(body()) }.start()
            }
        } onCancel: {
            once.resume(nil)
        }
    }

    /// After SIGTERM: lets running jobs finish within `shutdown_grace`, then cancels them.
    private func finishRunningJobs() async {
        let running = executor.runningJobs
        let grace = TimeInterval(current.configuration.shutdownGrace)
        var cutShort: [String] = []
        if !running.isEmpty {
            logger.notice("Waiting for running jobs", metadata: ["jobs": "\(running)", "grace": "\(Int(grace))s"])
            systemd.status("Stopping: waiting up to \(Int(grace)) s for \(running.joined(separator: ", "))")
            if await !executor.waitForAll(seconds: grace) {
                cutShort = executor.runningJobs
                let reason =
                    "the daemon was asked to stop and shutdown_grace (\(DurationText.render(Int64(grace)))) passed"
                logger.warning("Cancelling running jobs", metadata: ["jobs": "\(cutShort)", "reason": "\(reason)"])
                systemd.status("Stopping: cancelling \(cutShort.joined(separator: ", "))")
                executor.cancelAll(reason: reason)
                if await !executor.waitForAll(seconds: Self.abortBound) {
                    logger.error(
                        "Jobs did not stop; exiting anyway (the next start records them as interrupted)",
                        metadata: ["jobs": "\(executor.runningJobs)"])
                }
            }
        }
        record(
            AgentEvent.daemonStopped, cutShort.isEmpty ? .information : .warning,
            cutShort.isEmpty
                ? "Lifeboat daemon stopped" : "Lifeboat daemon stopped; runs cut short: \(cutShort.joined(separator: ", "))",
            cutShort.isEmpty ? [:] : ["interrupted": cutShort.joined(separator: " ")])
        logger.notice("Daemon stopped")
    }

    /// How long cancelled jobs get to abort their uploads before the process exits regardless.
    static let abortBound: TimeInterval = 30
    /// How long sends under way get at shutdown; one cut off is sent again at the next start.
    static let relayStopBound: TimeInterval = 10

    // MARK: - Reload

    /// SIGHUP: loads the configuration again; keeps the old one when the new one is refused.
    func reload() async {
        let old = current.configuration
        logger.notice("Reloading the configuration", metadata: ["file": "\(configPath)"])
        let new: Configuration
        do {
            new = try Configuration.load(path: configPath)
        } catch {
            refuse("\(error)")
            return
        }
        if new.stateDirectory != old.stateDirectory {
            refuse("state_dir cannot change while the daemon runs (restart it to use \(new.stateDirectory))")
            return
        }
        if new.api?.host != old.api?.host || new.api?.port != old.api?.port || new.api?.token != old.api?.token {
            refuse("api cannot change while the daemon runs (restart it)")
            return
        }
        current.configuration = new
        await scheduler.reload(Agent(configuration: new, logger: logger))
        relay.apply(new, state: state, logger: logger)
        record(
            AgentEvent.configReloaded, .information, "configuration reloaded from \(configPath)",
            ["jobs": new.jobs.map(\.name).joined(separator: " ")])
        logger.notice("Configuration reloaded", metadata: ["jobs": "\(new.jobs.map(\.name))"])
        systemd.status(await statusLine())
    }

    private func refuse(_ reason: String) {
        logger.error("New configuration refused; the running one stays", metadata: ["reason": "\(reason)"])
        record(
            AgentEvent.configRefused, .warning, "the new configuration was refused; the running one stays: \(reason)",
            ["file": configPath, "error": reason])
    }

    // MARK: - Status

    func statusLine() async -> String {
        let running = executor.runningJobs
        let next = await scheduler.upcoming().first
        var parts: [String] = []
        if !running.isEmpty { parts.append("Running: " + running.joined(separator: ", ")) }
        if let next { parts.append("next: \(next.job) at \(Timestamp.iso8601(next.at))") }
        return parts.isEmpty ? "Idle; no scheduled job" : (running.isEmpty ? "Idle; " : "") + parts.joined(separator: "; ")
    }

    fileprivate func statusChanged() {
        Task { systemd.status(await statusLine()) }
    }

    private func record(_ type: String, _ level: EventLevel, _ message: String, _ attributes: [String: String]) {
        do {
            try state.recordEvent(
                Event(type: type, level: level, time: clock.now(), source: "agent", attributes: attributes, message: message))
        } catch {
            logger.error("Event not recorded", metadata: ["type": "\(type)", "error": "\(error)"])
        }
    }
}

/// Calls `ready` once every part of the daemon has arrived (the scheduler, and the listener when configured).
actor StartupGate {
    private var waitingFor: Int
    private let ready: @Sendable () async -> Void

    init(waitingFor: Int, ready: @escaping @Sendable () async -> Void) {
        self.waitingFor = waitingFor
        self.ready = ready
    }

    func arrive() async {
        waitingFor -= 1
        if waitingFor == 0 { await ready() }
    }
}

/// The relay, when `notifications` is configured; started, updated or stopped as reloads say.
final class RelayHolder: @unchecked Sendable {
    // @unchecked: `relay` is only read and written under `lock`.
    private let lock = NSLock()
    private var relay: NotificationRelay?

    func apply(_ configuration: Configuration, state: StateDatabase, logger: Logger) {
        let setup = configuration.notifications.map {
            NotificationRelay.Setup(
                contacts: $0.contacts,
                channels: NotificationChannels(
                    smtp: $0.smtp, ami: $0.ami, templates: $0.templates, host: configuration.host,
                    agentVersion: Agent.version, logger: logger),
                policy: $0.policy)
        }
        let (started, stopped): (NotificationRelay?, NotificationRelay?) = lock.withLock {
            switch (relay, setup) {
            case (let running?, let setup?):
                running.update(setup)
                return (nil, nil)
            case (nil, let setup?):
                relay = NotificationRelay(state: state, setup: setup, logger: logger)
                return (relay, nil)
            case (let running?, nil):
                relay = nil
                return (nil, running)
            case (nil, nil):
                return (nil, nil)
            }
        }
        started?.start()
        stopped?.stop(waitingUpTo: 0)
    }

    func stop(waitingUpTo seconds: TimeInterval) {
        lock.withLock { relay }?.stop(waitingUpTo: seconds)
    }
}

/// Resumes a continuation exactly once, with the first value given, whether that comes before or
/// after the continuation is attached.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    // @unchecked: every field is only read and written under `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?
    private var early: T?
    private var hasEarly = false
    private var done = false

    func attach(_ continuation: CheckedContinuation<T, Never>) {
        lock.withLock {
            if hasEarly, !done {
                done = true
                continuation.resume(returning: early!)
            } else if !done {
                self.continuation = continuation
            }
        }
    }

    func resume(_ value: T) {
        lock.withLock {
            guard !done, !hasEarly else { return }
            if let continuation {
                done = true
                self.continuation = nil
                continuation.resume(returning: value)
            } else {
                early = value
                hasEarly = true
            }
        }
    }
}

/// Lets the executor's threads reach the daemon that owns it (created before the daemon is complete).
private final class StatusBox: @unchecked Sendable {
    // @unchecked: `daemon` is set once in `Daemon.init`, before any job can start.
    weak var daemon: Daemon?

    func changed() { daemon?.statusChanged() }
}
