import Foundation
import LifeboatCore
import LifeboatFirmware
import Logging

/// The install record, as JSON in the state database's settings table (`firmware.install`): durable
/// when `save` returns (synchronous=FULL).
struct SettingsInstallJournal: FirmwareInstallJournal {
    static let key = "firmware.install"
    let state: StateDatabase

    func load() throws -> FirmwareInstallRecord? {
        guard let stored = try state.setting(Self.key) else { return nil }
        return try FirmwareInstallRecord(json: Array(stored.value.utf8))
    }

    func save(_ record: FirmwareInstallRecord) throws {
        try state.setSetting(Self.key, to: String(decoding: try record.encodedJSON(), as: UTF8.self))
    }

    func clear() throws { try state.removeSetting(Self.key) }
}

/// What the installer does to this PBX: the configured commands (run without a shell, with timeouts,
/// their output in errors), the pre-upgrade job, an in-place restore, and the event log.
struct AgentInstallEffects: FirmwareInstallEffects {
    let agent: Agent
    let install: FirmwareInstallConfiguration
    let state: StateDatabase
    /// Restores the named components of a snapshot in place (the in-place restore of `lifeboat restore`).
    let restore: @Sendable (_ snapshot: PreUpgradeSnapshot, _ components: [String]) throws -> Void

    /// The longest a single health check may take.
    static let healthCheckTimeout: Double = 120

    func preUpgradeBackup() throws -> PreUpgradeSnapshot {
        let configuration = agent.configuration
        guard let job = configuration.job(named: install.preUpgradeJob) else {
            throw CommandError(.failure, "firmware.pre_upgrade_job '\(install.preUpgradeJob)' is not a job")
        }
        let stores = job.stores.compactMap { configuration.store(named: $0) }
        let report = try BackupJobRunner(
            agent: agent, job: job, stores: stores, trigger: RunTrigger(rawValue: "firmware"), state: state
        ).run()
        let committed = report.result.outcomes.filter(\.succeeded).map(\.store)
        guard !committed.isEmpty else {
            throw CommandError(
                .failure,
                "the pre-upgrade backup (\(job.name)) was committed on no store: "
                    + report.result.outcomes.map { "\($0.store): \($0.error ?? "failed")" }.joined(separator: "; "))
        }
        return PreUpgradeSnapshot(id: report.result.snapshot.rawValue, stores: committed)
    }

    func install(image: String) throws {
        try run("install_command", install.installCommand.map { $0.replacingOccurrences(of: "{image}", with: image) },
            timeout: install.commandTimeout)
    }

    func checkHealth() throws {
        try run("health_command", install.healthCommand, timeout: Self.healthCheckTimeout)
    }

    func rollback() throws {
        try run("rollback_command", install.rollbackCommand, timeout: install.commandTimeout)
    }

    func restoreConfiguration(from snapshot: PreUpgradeSnapshot) throws {
        try restore(snapshot, install.restoreComponents)
    }

    func currentVersion() -> FirmwareVersion? {
        agent.firmwareVersion().flatMap { try? FirmwareVersion($0) }
    }

    func record(_ event: Event) throws {
        try state.recordEvent(event)
    }

    /// Runs `vector`; throws naming the key, the exit status or signal, and the end of the output.
    private func run(_ key: String, _ vector: [String], timeout: Double) throws {
        var process = ChildProcess(
            vector[0], arguments: Array(vector.dropFirst()), timeout: .seconds(timeout))
        process.standardOutputLimit = 64 << 10
        let result: ChildProcess.Result
        do {
            result = try process.run()
        } catch {
            throw CommandError(.failure, "firmware.\(key): \(error)")
        }
        let output = (result.standardErrorText + result.standardOutputText)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        agent.logger.info(
            "Firmware command ran",
            metadata: ["key": "\(key)", "result": "\(result.termination)", "output": "\(output.suffix(500))"])
        guard result.succeeded else {
            let how = result.interruption.map { "\($0)" } ?? "\(result.termination)"
            throw CommandError(
                .failure,
                "firmware.\(key) (\(vector[0])) \(how)" + (output.isEmpty ? "" : ": " + String(output.suffix(800))))
        }
    }
}

/// Puts a release on the PBX through the install state machine: downloads and verifies the image,
/// then runs or resumes `FirmwareInstaller`.
public enum FirmwareInstallation {
    /// The installer for this configuration, journalled in the state database.
    static func installer(
        agent: Agent, firmware: FirmwareConfiguration, install: FirmwareInstallConfiguration, state: StateDatabase,
        cancellation: CancellationFlag = CancellationFlag()
    ) -> FirmwareInstaller {
        let restore: @Sendable (PreUpgradeSnapshot, [String]) throws -> Void = { snapshot, components in
            try InPlaceConfigurationRestore.restore(
                agent: agent, snapshot: snapshot.id, stores: snapshot.stores, components: components, state: state)
        }
        return FirmwareInstaller(
            journal: SettingsInstallJournal(state: state),
            effects: AgentInstallEffects(agent: agent, install: install, state: state, restore: restore),
            healthTimeout: install.healthTimeout, healthInterval: install.healthInterval, cancellation: cancellation,
            logger: agent.logger)
    }

    /// Downloads `release` into `state_dir/firmware` (resuming a partial download) and installs it in
    /// the window, or now with `ignoreWindow`.
    public static func install(
        release: FirmwareRelease, agent: Agent, firmware: FirmwareConfiguration, state: StateDatabase,
        ignoreWindow: Bool = false
    ) throws -> FirmwareInstallOutcome {
        guard let install = firmware.install else {
            throw CommandError(.usage, "firmware.mode is \(firmware.mode.rawValue): set mode: install to install")
        }
        let downloader = ImageDownloader(
            directory: agent.configuration.stateDirectory + "/firmware", caFile: firmware.caFile,
            allowInsecure: firmware.policy.allowInsecure)
        let image = try downloader.download(release, logger: agent.logger)
        return try installer(agent: agent, firmware: firmware, install: install, state: state)
            .run(release: release, image: image, window: install.window, ignoreWindow: ignoreWindow)
    }

    /// Continues an install a crash or a stop interrupted; nil when there is nothing to continue.
    public static func resume(agent: Agent, firmware: FirmwareConfiguration, state: StateDatabase) throws
        -> FirmwareInstallOutcome?
    {
        guard let install = firmware.install else { return nil }
        let outcome = try installer(agent: agent, firmware: firmware, install: install, state: state).resume()
        return outcome == .nothingToResume ? nil : outcome
    }

    /// The saved install record, if any.
    public static func record(state: StateDatabase) throws -> FirmwareInstallRecord? {
        try SettingsInstallJournal(state: state).load()
    }

    /// The outcome's name for JSON: `waiting`, `installed`, `rolled_back`, `abandoned`, `failed`, `nothing`.
    public static func name(_ outcome: FirmwareInstallOutcome) -> String {
        switch outcome {
        case .waitingForWindow: "waiting"
        case .installed: "installed"
        case .rolledBack: "rolled_back"
        case .abandoned: "abandoned"
        case .failed: "failed"
        case .nothingToResume: "nothing"
        }
    }

    /// One line for an outcome.
    public static func describe(_ outcome: FirmwareInstallOutcome) -> String {
        switch outcome {
        case .waitingForWindow(let until): "waiting for the maintenance window (opens \(Timestamp.iso8601(until)))"
        case .installed(let r): "firmware \(r.version) installed and healthy"
        case .rolledBack(let r):
            "firmware \(r.version) failed (\(r.lastError ?? r.failure ?? "")); rolled back and the configuration restored"
        case .abandoned(let r): "firmware \(r.version) not installed: \(r.lastError ?? r.failure ?? "the pre-upgrade backup failed")"
        case .failed(let r): "firmware \(r.version): \(r.failure ?? r.lastError ?? "failed"); the PBX needs a person"
        case .nothingToResume: "no install to continue"
        }
    }
}
