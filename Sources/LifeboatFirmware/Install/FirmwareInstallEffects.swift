import LifeboatCore

/// What the firmware installer does to the PBX and to the world, injected by the agent: the hooks
/// of the `firmware:` configuration, the pre-upgrade backup and restore, and the event log.
///
/// Every method blocks and is called on the thread that called `FirmwareInstaller.run` or
/// `resume`. Errors are reported in the install record and in events with their `description`, so
/// they must say what failed (the command, its exit status and the end of its output) and hold no
/// secrets.
///
/// **Idempotence.** After a crash the installer repeats the step that was being taken, so
/// `preUpgradeBackup()`, `rollback()` and `restoreConfiguration(from:)` may be called again after
/// they ran in part or in full, and must then do the same thing again safely: a second backup is a
/// new snapshot; `rollback_command` must accept a PBX it already rolled back, or one whose install
/// never started; a restore overwrites the configuration with the snapshot's again. `install(image:)`
/// is never repeated: a record found in `installing` is judged by health and version instead.
public protocol FirmwareInstallEffects: Sendable {
    /// Runs the pre-upgrade backup (`firmware.pre_upgrade_job`) and returns the snapshot it made.
    ///
    /// Throws when no store committed the snapshot; a snapshot on some of the job's stores is enough.
    func preUpgradeBackup() throws -> PreUpgradeSnapshot

    /// Runs `firmware.install_command` with `{image}` replaced by `image`; throws, with the command's
    /// exit status and output, when it exits non-zero or times out.
    func install(image: String) throws

    /// Runs `firmware.health_command` once; throws, with its output, when the PBX is not healthy.
    func checkHealth() throws

    /// Runs `firmware.rollback_command`; throws, with its output, when it fails.
    func rollback() throws

    /// Restores the configuration components of `snapshot` onto the PBX, in place.
    func restoreConfiguration(from snapshot: PreUpgradeSnapshot) throws

    /// The firmware version the PBX runs now (`pbx.firmware_version_file` or
    /// `firmware_version_command`); nil when it cannot be read.
    func currentVersion() -> FirmwareVersion?

    /// Records `event` durably in the event log. Recording must be idempotent by `Event.id`: after a
    /// crash the installer records the events of its last step again, under the same ids.
    func record(_ event: Event) throws
}
