import LifeboatFirmware

/// The version gate of in-place restores (as Yeastar does): a snapshot made on a newer PBX firmware
/// than the running one is refused, and so is one where either version is unknown, unless forced.
/// A newer firmware's data (database schemas, configuration syntax) may not work on an older PBX.
enum FirmwareGate {
    /// Nil when the snapshot may be restored; otherwise why not, naming both versions.
    static func refusal(snapshot: String?, running: String?) -> String? {
        let snapshotText = snapshot.map { "'\($0)'" } ?? "unknown"
        let runningText = running.map { "'\($0)'" } ?? "unknown"
        switch (snapshot, running) {
        case (nil, nil):
            return
                "both firmware versions are unknown: the snapshot records none, and the running one cannot be read (set pbx.firmware_version_file or pbx.firmware_version_command)"
        case (nil, _):
            return
                "the snapshot's firmware version is unknown (it records none); the running firmware is \(runningText)"
        case (_, nil):
            return
                "the running firmware version is unknown (set pbx.firmware_version_file or pbx.firmware_version_command); the snapshot was made on firmware \(snapshotText)"
        case (let s?, let r?):
            let parsed: (FirmwareVersion, FirmwareVersion)
            do {
                parsed = (try FirmwareVersion(s), try FirmwareVersion(r))
            } catch {
                return
                    "the snapshot's firmware \(snapshotText) and the running firmware \(runningText) cannot be compared: \(error)"
            }
            guard parsed.0 > parsed.1 else { return nil }
            return
                "the snapshot was made on firmware \(snapshotText), newer than the running firmware \(runningText); update the PBX first"
        }
    }
}
