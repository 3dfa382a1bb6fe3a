/// Where a firmware install stands; the journal holds it, saved before the step is taken.
///
/// The steps in order, with what `FirmwareInstaller.resume()` does when it finds a record left in
/// each one after a crash:
///
/// | step | meaning | on resume |
/// | --- | --- | --- |
/// | `waitingForWindow` | planned; nothing done yet | nothing: the caller runs it again when the window opens |
/// | `backingUp` | the pre-upgrade backup may be running | back up again (a backup is safe to repeat), if the window is still open |
/// | `installing` | `install_command` may have run, in part or in full | health loop; healthy on the target version → `installed`, else roll back |
/// | `checkingHealth` | `install_command` succeeded; health checks are being made | continue the health loop; the timeout counts from the first attempt |
/// | `rollingBack` | `rollback_command` may be running | run it again (it must be idempotent) |
/// | `restoring` | the configuration is being restored from the pre-upgrade snapshot | restore again (idempotent) |
/// | `installed` | finished: healthy on the target version | nothing |
/// | `rolledBack` | finished: the install failed, was rolled back and the configuration restored | nothing |
/// | `abandoned` | finished: the pre-upgrade backup failed, so the PBX was not touched | nothing |
/// | `failed` | finished: a rollback or restore failed; the PBX needs a person | nothing |
///
/// Raw values are the snake-case names used in the journal, in events (`step`) and in status output.
public enum FirmwareInstallStep: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case waitingForWindow = "waiting_for_window"
    case backingUp = "backing_up"
    case installing
    case checkingHealth = "checking_health"
    case rollingBack = "rolling_back"
    case restoring
    case installed
    case rolledBack = "rolled_back"
    case abandoned
    case failed

    /// Whether the install is over: nothing is left to do or to resume.
    public var isFinished: Bool {
        switch self {
        case .installed, .rolledBack, .abandoned, .failed: true
        case .waitingForWindow, .backingUp, .installing, .checkingHealth, .rollingBack, .restoring: false
        }
    }

    /// Whether the PBX may be half-way through a change: from the start of `install_command` until
    /// the install is over.
    public var mayHaveChangedThePBX: Bool {
        switch self {
        case .installing, .checkingHealth, .rollingBack, .restoring: true
        case .waitingForWindow, .backingUp, .installed, .rolledBack, .abandoned, .failed: false
        }
    }

    public var description: String { rawValue }
}
