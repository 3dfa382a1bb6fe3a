import Foundation

/// What a call to `FirmwareInstaller.run` or `resume()` ended with.
public enum FirmwareInstallOutcome: Sendable, Equatable {
    /// The maintenance window is not open: nothing was done beyond saving the plan. Call `run`
    /// again at `until` or later (the time may have passed when the window closed during the
    /// backup, or when `resume()` finds a plan saved long ago).
    case waitingForWindow(until: Date)
    /// The PBX is healthy on the target version; `firmware.installed` was recorded.
    case installed(FirmwareInstallRecord)
    /// The install failed and was undone: `rollback_command` ran and the configuration was restored
    /// from the pre-upgrade snapshot; `firmware.failed` and `firmware.rolled_back` were recorded.
    case rolledBack(FirmwareInstallRecord)
    /// The pre-upgrade backup failed, so nothing was installed; `firmware.failed` (warning) was
    /// recorded.
    case abandoned(FirmwareInstallRecord)
    /// Undoing a failed install failed: the PBX needs a person. `firmware.failed` (alert) says what
    /// was done and what failed. New installs are refused until ``FirmwareInstaller/acknowledge()``.
    case failed(FirmwareInstallRecord)
    /// `resume()` found no record: there was nothing to do.
    case nothingToResume
}
