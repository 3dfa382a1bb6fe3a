import Foundation
import LifeboatCore
import Logging

/// Installs a verified firmware image as a state machine over a journal and injected effects, so
/// that a crash at any moment is resumed or rolled back on restart.
///
/// The promise of `firmware.mode: install`: the image is installed only inside the maintenance
/// window, only after a pre-upgrade backup committed on at least one store; then `install_command`
/// runs, then `health_command` is retried until `health_timeout`. Healthy on the target version:
/// `firmware.installed`. Otherwise: `firmware.failed`, `rollback_command`, the configuration is
/// restored from the pre-upgrade snapshot, `firmware.rolled_back`. When the rollback or the restore
/// itself fails, the install ends `failed` with an alert saying that the PBX needs a person.
///
/// Every step is saved in the journal before it is taken, with the events it raises (see
/// ``FirmwareInstallStep`` for what `resume()` does in each step). The agent calls `resume()` at
/// start-up, and `run` when the checker finds a release to install (or from
/// `lifeboat firmware install`). Errors of the journal or of recording an event end the call with
/// that error, as a crash would: the record holds the step and `resume()` continues it.
///
/// Cancellation (the flag) stops the install only where stopping is safe: before the backup, before
/// `install_command`, and between health checks; never during a hook, nor between the start of the
/// rollback and its end. The call then throws ``FirmwareInstallError`` `.cancelled`.
///
/// All work happens on the caller's thread and blocks (hooks, health loop, sleeps): call it from a
/// thread of its own, never from Swift's cooperative pool, and one call at a time per journal.
public struct FirmwareInstaller: Sendable, CustomStringConvertible {
    /// `firmware.health_timeout` when it is not set: ten minutes.
    public static let defaultHealthTimeout: Double = 600
    /// Seconds between health checks when not set.
    public static let defaultHealthInterval: Double = 15

    /// Where the install record is kept.
    public let journal: any FirmwareInstallJournal
    /// The hooks, backup, restore and event log.
    public let effects: any FirmwareInstallEffects
    /// How long after the first health check (seconds) the PBX may take to become healthy on the
    /// target version (`firmware.health_timeout`). At least one check is made, even after a restart
    /// that came later than this.
    public var healthTimeout: Double
    /// Seconds between health checks.
    public var healthInterval: Double
    /// Raised to stop at the next safe point.
    public let cancellation: CancellationFlag
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let sleep: @Sendable (Double) -> Void

    /// - Parameters:
    ///   - now: the wall clock (tests pass one that `sleep` advances).
    ///   - sleep: blocks for the given seconds; called with at most one second at a time, so that
    ///     cancellation is noticed.
    public init(
        journal: any FirmwareInstallJournal, effects: any FirmwareInstallEffects,
        healthTimeout: Double = defaultHealthTimeout, healthInterval: Double = defaultHealthInterval,
        cancellation: CancellationFlag = CancellationFlag(), logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
    ) {
        self.journal = journal
        self.effects = effects
        self.healthTimeout = max(0, healthTimeout)
        self.healthInterval = max(0, healthInterval)
        self.cancellation = cancellation
        self.logger = logger
        self.now = now
        self.sleep = sleep
    }

    public var description: String {
        "firmware installer (health timeout \(Int(healthTimeout)) s, every \(Int(healthInterval)) s)"
    }

    // MARK: Entry points

    /// Installs `release` from `image`: saves the plan, and when the window is open (or ignored)
    /// backs up, installs, checks health and, on failure, rolls back; returns how it ended.
    ///
    /// When the window is not open, only the plan is saved and the result is
    /// `.waitingForWindow(until:)` with the next opening: call `run` again then. When the window
    /// closes during the backup, `install_command` is not started and the result is the same.
    ///
    /// A record already in the journal decides what happens first:
    /// - unfinished, for this release (same version and image SHA-256): it is continued, as
    ///   `resume()` would (the plan and the window of that record apply);
    /// - unfinished, for another release: refused with `.inProgress`, nothing is done (a plan still
    ///   `waitingForWindow` is not under way: it is replaced);
    /// - `failed`: refused with `.needsAttention` until ``acknowledge()``;
    /// - otherwise finished: replaced by the new plan.
    ///
    /// - Parameters:
    ///   - release: the release from the verified feed.
    ///   - image: its downloaded, verified image; its SHA-256 must be the release's.
    ///   - window: `firmware.window`.
    ///   - ignoreWindow: install now, whatever the window (`lifeboat firmware install --ignore-window`).
    /// - Throws: ``FirmwareInstallError`` (`.imageMismatch`, `.inProgress`, `.needsAttention`,
    ///   `.cancelled`); errors of the journal and of recording events, unchanged.
    public func run(
        release: FirmwareRelease, image: DownloadedImage, window: MaintenanceWindow, ignoreWindow: Bool = false
    ) throws -> FirmwareInstallOutcome {
        let sha256 = image.sha256.lowercased()
        guard sha256 == release.sha256.lowercased() else {
            throw FirmwareInstallError(
                .imageMismatch,
                "the image \(image.path) has SHA-256 \(sha256), but release \(release.version) declares "
                    + "\(release.sha256.lowercased()); download it again")
        }
        if var existing = try journal.load() {
            try recordPendingEvents(&existing)
            switch existing.step {
            case .failed:
                throw FirmwareInstallError(
                    .needsAttention,
                    "the install of \(existing.version) failed and could not be undone, so the PBX needs a person "
                        + "(\(existing.lastError ?? "see the install record")); once a person has checked it, acknowledge "
                        + "the failed install before installing \(release.version)")
            case .backingUp, .installing, .checkingHealth, .rollingBack, .restoring:
                guard existing.version == release.version, existing.imageSHA256 == sha256 else {
                    throw FirmwareInstallError(
                        .inProgress,
                        "the install of \(existing.version) is under way (step \(existing.step)); it must finish "
                            + "before \(release.version) can be installed")
                }
                return try advance(existing, resumed: true)
            case .waitingForWindow, .installed, .rolledBack, .abandoned:
                break
            }
        }

        let at = now()
        var record = FirmwareInstallRecord(
            version: release.version, fromVersion: effects.currentVersion(), imagePath: image.path,
            imageSHA256: sha256, ignoresWindow: ignoreWindow, plannedAt: at)
        let from = record.fromVersion?.text ?? "an unknown version"
        if ignoreWindow {
            record.step = .backingUp
            note(
                &record, "Firmware install planned", "\(release.version) from \(from), ignoring the maintenance window")
        } else if let open = window.occurrence(containing: at) {
            record.step = .backingUp
            record.windowClosesAt = open.end
            record.nextWindowOpensAt = window.nextOpening(after: at)
            note(
                &record, "Firmware install planned",
                "\(release.version) from \(from) in the maintenance window closing at \(Timestamp.iso8601(open.end))")
        } else {
            let opening = window.nextOpening(after: at)
            record.nextWindowOpensAt = opening
            note(
                &record, "Firmware install waits for the maintenance window",
                "\(release.version) from \(from) when the window (\(window)) opens at \(Timestamp.iso8601(opening))")
        }
        try save(&record)
        return try advance(record, resumed: false)
    }

    /// Continues the install the journal holds after a restart; call it at start-up before anything
    /// else touches the PBX.
    ///
    /// Events saved with the last step and maybe not recorded are recorded again first (under their
    /// ids). Then, by step: `waitingForWindow` → `.waitingForWindow` (nothing is done); `backingUp` →
    /// back up again and go on, if the window the install started in is still open; `installing` →
    /// whether `install_command` finished is unknown, so it is not run again: the health loop runs
    /// (its timeout counting from now), and healthy on the target version means installed, anything
    /// else rolls back; `checkingHealth` → the health loop goes on, the timeout counting from the
    /// recorded first attempt; `rollingBack`, `restoring` → that step again (the hooks are idempotent);
    /// finished → nothing, the outcome of the record is returned.
    ///
    /// - Throws: ``FirmwareInstallError`` `.cancelled`; errors of the journal and of recording
    ///   events, unchanged.
    public func resume() throws -> FirmwareInstallOutcome {
        guard let record = try journal.load() else { return .nothingToResume }
        if record.step.mayHaveChangedThePBX {
            logger.warning(
                "Resuming an unfinished firmware install",
                metadata: ["firmware.version": "\(record.version)", "firmware.step": "\(record.step)"])
        }
        return try advance(record, resumed: true)
    }

    /// The install record the journal holds: the install under way or the last one.
    public func status() throws -> FirmwareInstallRecord? {
        try journal.load()
    }

    /// Clears a finished record (or a plan still waiting for the window), so that a `failed` install
    /// no longer blocks new ones once a person has seen to the PBX. Does nothing without a record.
    ///
    /// - Throws: ``FirmwareInstallError`` `.notFinished` while the install is not finished (let
    ///   `resume()` finish it); errors of the journal and of recording events.
    public func acknowledge() throws {
        guard var record = try journal.load() else { return }
        guard record.step.isFinished || record.step == .waitingForWindow else {
            throw FirmwareInstallError(
                .notFinished,
                "the install of \(record.version) is at step \(record.step); it can be cleared once it is finished")
        }
        try recordPendingEvents(&record)
        try journal.clear()
        logger.info("Firmware install record cleared", metadata: ["firmware.version": "\(record.version)"])
    }

    // MARK: The state machine

    /// Takes steps from `start` until the install finishes or waits for the window.
    ///
    /// `resumed` says that `start` was read from the journal rather than saved by this call, which
    /// matters for `installing` only: this call did not start `install_command`.
    private func advance(_ start: FirmwareInstallRecord, resumed: Bool) throws -> FirmwareInstallOutcome {
        var record = start
        try recordPendingEvents(&record)
        var stepIsResumed = resumed
        while true {
            switch record.step {
            case .waitingForWindow:
                return .waitingForWindow(until: record.nextWindowOpensAt ?? record.plannedAt)
            case .backingUp:
                try backUp(&record)
            case .installing:
                if stepIsResumed {
                    try judgeInterruptedInstall(&record)
                } else {
                    try install(&record)
                }
            case .checkingHealth:
                try checkHealth(&record)
            case .rollingBack:
                try rollBack(&record)
            case .restoring:
                try restoreConfiguration(&record)
            case .installed:
                return .installed(record)
            case .rolledBack:
                return .rolledBack(record)
            case .abandoned:
                return .abandoned(record)
            case .failed:
                return .failed(record)
            }
            stepIsResumed = false
        }
    }

    /// `backingUp`: the pre-upgrade backup, then on to `installing` while the window is open.
    private func backUp(_ record: inout FirmwareInstallRecord) throws {
        if windowHasClosed(record) { return try waitForNextWindow(&record) }
        try stopIfCancelled(record)
        record.backupAttempts += 1
        try save(&record)

        let snapshot: PreUpgradeSnapshot
        do {
            snapshot = try effects.preUpgradeBackup()
        } catch {
            return try abandon(&record, Self.describe(error))
        }
        guard !snapshot.stores.isEmpty else {
            return try abandon(&record, "snapshot \(snapshot.id) was committed on no store")
        }
        record.snapshot = snapshot
        record.lastError = nil
        note(&record, "Pre-upgrade backup committed", "snapshot \(snapshot)")
        if windowHasClosed(record) { return try waitForNextWindow(&record) }
        if cancellation.isCancelled {
            try save(&record)
            try stopIfCancelled(record)
        }

        record.step = .installing
        record.installStartedAt = now()
        note(&record, "Firmware install started", "\(record.version) from \(record.imagePath)")
        let event = makeEvent(
            AgentEvent.firmwareInstallStarted, .information, record, step: .installing,
            message: "Installing firmware \(record.version)\(fromText(record)); the pre-upgrade backup is snapshot "
                + "\(snapshot).")
        try commit(&record, events: [event])
    }

    /// The pre-upgrade backup failed: ends `abandoned` with `firmware.failed` (warning), having
    /// changed nothing on the PBX.
    private func abandon(_ record: inout FirmwareInstallRecord, _ error: String) throws {
        record.failure = "the pre-upgrade backup failed: \(error)"
        record.lastError = record.failure
        let event = makeEvent(
            AgentEvent.firmwareFailed, .warning, record, step: .backingUp, error: error,
            message: "Firmware \(record.version) was not installed: the pre-upgrade backup failed (\(error)). "
                + "Nothing was changed on the PBX.")
        finish(&record, .abandoned, "Pre-upgrade backup failed; nothing was installed", error)
        try commit(&record, events: [event])
    }

    /// `installing`, started by this call: runs `install_command` once.
    private func install(_ record: inout FirmwareInstallRecord) throws {
        do {
            try effects.install(image: record.imagePath)
        } catch {
            return try beginRollback(
                &record, failedStep: .installing, "install_command failed: \(Self.describe(error))")
        }
        record.step = .checkingHealth
        note(&record, "Firmware install command finished", "checking health")
        try save(&record)
    }

    /// `installing`, read from the journal: `install_command` may have finished or not, so the
    /// health loop decides (healthy on the target version, or roll back), with a fresh timeout.
    private func judgeInterruptedInstall(_ record: inout FirmwareInstallRecord) throws {
        record.step = .checkingHealth
        record.healthCheckStartedAt = nil
        record.lastError = "install_command was interrupted; whether it finished is unknown"
        note(
            &record, "Firmware install was interrupted",
            "whether install_command finished is unknown; checking health and version")
        try save(&record)
    }

    /// `checkingHealth`: health checks every `healthInterval` until one passes on the target
    /// version, or until `healthTimeout` after the first one.
    private func checkHealth(_ record: inout FirmwareInstallRecord) throws {
        while true {
            try stopIfCancelled(record)
            if record.healthCheckStartedAt == nil {
                record.healthCheckStartedAt = now()
            }
            record.healthAttempts += 1
            try save(&record)

            let problem: String?
            do {
                try effects.checkHealth()
                let running = effects.currentVersion()
                problem =
                    running == record.version
                    ? nil
                    : "health_command passed, but the PBX runs "
                        + (running.map { "version \($0)" } ?? "a version that cannot be read")
                        + ", not \(record.version)"
            } catch {
                problem = "health_command failed: \(Self.describe(error))"
            }
            guard let problem else {
                record.lastError = nil
                let attempts = record.healthAttempts
                let event = makeEvent(
                    AgentEvent.firmwareInstalled, .information, record, step: .checkingHealth,
                    message: "Firmware \(record.version) installed\(fromText(record)); the PBX is healthy.")
                finish(&record, .installed, "Firmware installed", "healthy on \(record.version) at attempt \(attempts)")
                return try commit(&record, events: [event])
            }
            record.lastError = problem
            let started = record.healthCheckStartedAt ?? now()
            let elapsed = now().timeIntervalSince(started)
            if elapsed >= healthTimeout {
                return try beginRollback(
                    &record, failedStep: .checkingHealth,
                    "the PBX was not healthy on \(record.version) within \(Self.seconds(healthTimeout)) "
                        + "(\(record.healthAttempts) checks): \(problem)")
            }
            try pause(min(healthInterval, healthTimeout - elapsed), record)
        }
    }

    /// The install failed: records why and `firmware.failed`, and moves to `rollingBack`.
    private func beginRollback(
        _ record: inout FirmwareInstallRecord, failedStep: FirmwareInstallStep, _ failure: String
    ) throws {
        record.failure = failure
        record.lastError = failure
        let snapshot = record.snapshot.map { " and restoring the configuration from snapshot \($0)" } ?? ""
        let event = makeEvent(
            AgentEvent.firmwareFailed, .alert, record, step: failedStep, error: failure,
            message: "Installing firmware \(record.version) failed: \(failure). Rolling back"
                + (record.fromVersion.map { " to \($0)" } ?? "") + snapshot + ".")
        record.step = .rollingBack
        note(&record, "Firmware install failed; rolling back", failure)
        try commit(&record, events: [event])
    }

    /// `rollingBack`: runs `rollback_command`, then on to `restoring`.
    private func rollBack(_ record: inout FirmwareInstallRecord) throws {
        record.rollbackAttempts += 1
        try save(&record)
        do {
            try effects.rollback()
        } catch {
            let text = "rollback_command failed: \(Self.describe(error))"
            return try giveUp(
                &record, failedStep: .rollingBack, text,
                notDone: "the configuration was not restored"
                    + (record.snapshot.map { " from snapshot \($0.id)" } ?? ""))
        }
        record.lastError = nil
        record.step = .restoring
        note(&record, "Firmware rollback command finished", "restoring the configuration")
        try save(&record)
    }

    /// `restoring`: restores the configuration from the pre-upgrade snapshot; the install is then
    /// rolled back.
    private func restoreConfiguration(_ record: inout FirmwareInstallRecord) throws {
        guard let snapshot = record.snapshot else {
            return try giveUp(
                &record, failedStep: .restoring,
                "no pre-upgrade snapshot is recorded to restore the configuration from",
                notDone: "the configuration was not restored")
        }
        record.restoreAttempts += 1
        try save(&record)
        do {
            try effects.restoreConfiguration(from: snapshot)
        } catch {
            return try giveUp(
                &record, failedStep: .restoring,
                "restoring the configuration from snapshot \(snapshot.id) failed: \(Self.describe(error))",
                notDone: "the configuration may be partly restored")
        }
        record.lastError = nil
        let event = makeEvent(
            AgentEvent.firmwareRolledBack, .warning, record, step: .restoring, error: record.failure,
            message: "Firmware \(record.version) was rolled back"
                + (record.fromVersion.map { " to \($0)" } ?? "")
                + " and the configuration restored from snapshot \(snapshot); the install failed: "
                + "\(record.failure ?? "see the install record").")
        finish(&record, .rolledBack, "Firmware rolled back", "configuration restored from snapshot \(snapshot)")
        try commit(&record, events: [event])
    }

    /// Undoing the install failed: ends `failed` with an alert that says the PBX needs a person,
    /// what was done and what failed.
    private func giveUp(
        _ record: inout FirmwareInstallRecord, failedStep: FirmwareInstallStep, _ failed: String, notDone: String
    ) throws {
        var done: [String] = []
        if let snapshot = record.snapshot { done.append("the pre-upgrade backup committed as snapshot \(snapshot)") }
        if record.installStartedAt != nil { done.append("install_command was started") }
        if let failure = record.failure { done.append("the install failed (\(failure))") }
        if failedStep == .restoring, record.rollbackAttempts > 0 { done.append("rollback_command ran") }
        record.lastError = failed
        let event = makeEvent(
            AgentEvent.firmwareFailed, .alert, record, step: failedStep, error: failed,
            message: "The PBX needs a person: installing firmware \(record.version)\(fromText(record)) could not be "
                + "undone. Done: \(done.joined(separator: "; ")). Failed: \(failed). Not done: \(notDone).")
        finish(&record, .failed, "Firmware install could not be undone; the PBX needs a person", failed)
        try commit(&record, events: [event])
    }

    /// The window the install started in closed before `install_command`: back to waiting.
    private func waitForNextWindow(_ record: inout FirmwareInstallRecord) throws {
        record.step = .waitingForWindow
        record.windowClosesAt = nil
        note(
            &record, "Maintenance window closed before the install",
            "waiting for the next one" + (record.nextWindowOpensAt.map { " at \(Timestamp.iso8601($0))" } ?? ""))
        try save(&record)
    }

    // MARK: Helpers

    private func windowHasClosed(_ record: FirmwareInstallRecord) -> Bool {
        guard !record.ignoresWindow, let closes = record.windowClosesAt else { return false }
        return now() >= closes
    }

    private func stopIfCancelled(_ record: FirmwareInstallRecord) throws {
        guard let reason = cancellation.cancellationReason else { return }
        logger.info(
            "Firmware install stopped",
            metadata: ["firmware.version": "\(record.version)", "firmware.step": "\(record.step)"])
        throw FirmwareInstallError(
            .cancelled,
            "the install of \(record.version) stopped at step \(record.step) (\(reason)); resume() continues it")
    }

    /// Sleeps `seconds` in slices of at most a second, stopping when cancelled.
    private func pause(_ seconds: Double, _ record: FirmwareInstallRecord) throws {
        var remaining = seconds
        while remaining > 0 {
            try stopIfCancelled(record)
            let slice = min(remaining, 1)
            sleep(slice)
            remaining -= slice
        }
    }

    /// Ends the install in a finished step.
    private func finish(
        _ record: inout FirmwareInstallRecord, _ step: FirmwareInstallStep, _ sentence: Logger.Message,
        _ details: String
    ) {
        record.step = step
        record.finishedAt = now()
        note(&record, sentence, details)
    }

    /// Adds a line to the record's log and to the logger.
    private func note(_ record: inout FirmwareInstallRecord, _ sentence: Logger.Message, _ details: String) {
        record.note("\(sentence): \(details)", at: now())
        let metadata: Logger.Metadata = [
            "firmware.version": "\(record.version)", "firmware.step": "\(record.step)",
            "firmware.details": "\(details)",
        ]
        switch record.step {
        case .failed: logger.critical(sentence, metadata: metadata)
        case .abandoned, .rollingBack: logger.error(sentence, metadata: metadata)
        default: logger.info(sentence, metadata: metadata)
        }
    }

    private func save(_ record: inout FirmwareInstallRecord) throws {
        record.updatedAt = now()
        try journal.save(record)
    }

    /// Saves the record with `events` pending, records them, then saves it without them.
    private func commit(_ record: inout FirmwareInstallRecord, events: [Event]) throws {
        record.pendingEvents.append(contentsOf: events)
        try save(&record)
        try recordPendingEvents(&record)
    }

    /// Records the record's pending events (again, after a crash: recording is idempotent by id)
    /// and saves the record without them.
    private func recordPendingEvents(_ record: inout FirmwareInstallRecord) throws {
        guard !record.pendingEvents.isEmpty else { return }
        for event in record.pendingEvents { try effects.record(event) }
        record.pendingEvents = []
        try save(&record)
    }

    /// An agent event about `record`, with `version`, `from_version`, `snapshot`, `step` (the step
    /// it arose in) and `error` attributes.
    private func makeEvent(
        _ type: String, _ level: EventLevel, _ record: FirmwareInstallRecord, step: FirmwareInstallStep,
        error: String? = nil, message: String
    ) -> Event {
        let time = now()
        var attributes = ["version": record.version.text, "step": step.rawValue]
        attributes["from_version"] = record.fromVersion?.text
        attributes["snapshot"] = record.snapshot?.id
        attributes["error"] = error
        return Event(
            id: Event.newID(at: time), type: type, level: level, time: time, source: "agent", attributes: attributes,
            message: message)
    }

    private func fromText(_ record: FirmwareInstallRecord) -> String {
        record.fromVersion.map { " (from \($0))" } ?? ""
    }

    /// An error as one bounded line for records and events: long command output keeps its start
    /// and its end.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " / ")
        guard text.count > 1000 else { return text }
        return String(text.prefix(300)) + " … " + String(text.suffix(600))
    }

    /// `600 s`.
    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
