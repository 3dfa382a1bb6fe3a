import Foundation
import LifeboatCore

/// `lifeboat firmware check|status`: the update feed by hand.
public enum FirmwareCommand {
    /// Fetches and verifies the feed now. Exit 0 when up to date or a release is available, 1 when
    /// the feed was refused, 75 when it could not be fetched.
    public static func check(agent: Agent, json: Bool) throws -> ExitStatus {
        let firmware = try configured(agent)
        let state = try StateDatabase(stateDirectory: agent.configuration.stateDirectory)
        let result = try FirmwareChecker.check(agent: agent, firmware: firmware, state: state)
        if json {
            Console.printJSON(jsonObject(result))
        } else {
            Console.out(describe(result))
        }
        switch result.status {
        case .upToDate, .available: return .success
        case .refused: return .failure
        case .error: return .temporaryFailure
        }
    }

    /// Checks the feed and installs the release it offers: now with `ignoreWindow`, else in the window
    /// (waiting for it in the foreground). Exit 0 installed or up to date, 1 rolled back, abandoned or
    /// failed, 75 when the feed could not be fetched.
    public static func install(agent: Agent, ignoreWindow: Bool, json: Bool) throws -> ExitStatus {
        let firmware = try configured(agent)
        guard firmware.install != nil else {
            throw CommandError(.usage, "firmware.mode is \(firmware.mode.rawValue): set mode: install (with its keys) to install")
        }
        let state = try StateDatabase(stateDirectory: agent.configuration.stateDirectory)
        if let resumed = try FirmwareInstallation.resume(agent: agent, firmware: firmware, state: state) {
            Console.out("An interrupted install was continued: \(FirmwareInstallation.describe(resumed))")
        }
        let result = try FirmwareChecker.check(agent: agent, firmware: firmware, state: state)
        guard let release = FirmwareChecker.release(of: result) else {
            Console.out(describe(result))
            return result.status == .upToDate ? .success : result.status == .error ? .temporaryFailure : .failure
        }
        var outcome = try FirmwareInstallation.install(
            release: release, agent: agent, firmware: firmware, state: state, ignoreWindow: ignoreWindow)
        while case .waitingForWindow(let until) = outcome {
            Console.out("Waiting for the maintenance window: it opens \(Timestamp.iso8601(until))")
            Thread.sleep(until: max(until, Date().addingTimeInterval(1)))
            outcome = try FirmwareInstallation.install(
                release: release, agent: agent, firmware: firmware, state: state, ignoreWindow: ignoreWindow)
        }
        if json {
            Console.printJSON([
                "outcome": FirmwareInstallation.name(outcome), "message": FirmwareInstallation.describe(outcome),
            ])
        } else {
            Console.out(FirmwareInstallation.describe(outcome))
        }
        if case .installed = outcome { return .success }
        return .failure
    }

    /// What the last check found, without contacting anything.
    public static func status(agent: Agent, json: Bool) throws -> ExitStatus {
        let firmware = try configured(agent)
        let state = try StateDatabase.openExisting(stateDirectory: agent.configuration.stateDirectory)
        let last = try state.flatMap { try FirmwareChecker.lastCheck(state: $0) }
        let highest = try state?.setting(FirmwareChecker.highestSeenKey)?.value
        let next = firmware.checkSchedule?.nextFire(after: Date())
        let install = try state.flatMap { try FirmwareInstallation.record(state: $0) }
        if json {
            Console.printJSON([
                "feed": firmware.feedURL, "mode": firmware.mode.rawValue, "current": agent.firmwareVersion().json,
                "highest_seen": highest.json, "next_check": next.map(Timestamp.iso8601).json,
                "last_check": last.map(jsonObject).json,
                "install": install.map { record -> [String: Any] in
                    [
                        "version": record.version.text, "from_version": record.fromVersion.map(\.text).json,
                        "step": record.step.rawValue, "snapshot": record.snapshot.map(\.id).json,
                        "updated": Timestamp.iso8601(record.updatedAt), "last_error": record.lastError.json,
                        "failure": record.failure.json,
                    ]
                }.json,
            ] as [String: Any])
            return .success
        }
        Console.out("feed:          \(firmware.feedURL) (\(firmware.policy.product), channel \(firmware.policy.channel))")
        Console.out("mode:          \(firmware.mode.rawValue)")
        Console.out("running:       \(agent.firmwareVersion() ?? "unknown (set pbx.firmware_version_file or _command)")")
        Console.out("highest seen:  \(highest ?? "none yet")")
        Console.out("next check:    \(next.map(Timestamp.iso8601) ?? "only by hand (no check_schedule)")")
        Console.out("last check:    \(last.map(describe) ?? "never")")
        if let install {
            Console.out(
                "install:       \(install.version) \(install.step.rawValue) (since \(Timestamp.iso8601(install.updatedAt)))"
                    + ((install.failure ?? install.lastError).map { ": \($0)" } ?? ""))
        }
        return .success
    }

    static func describe(_ result: FirmwareCheckResult) -> String {
        let running = result.current.map { "running \($0)" } ?? "running version unknown"
        switch result.status {
        case .upToDate: return "\(result.checked): up to date (\(running))"
        case .available:
            return "\(result.checked): firmware \(result.available ?? "?") is available (\(running))"
                + (result.availableURL.map { ": \($0)" } ?? "")
        case .refused: return "\(result.checked): the feed was refused: \(result.reason ?? "")"
        case .error: return "\(result.checked): the feed could not be checked: \(result.reason ?? "")"
        }
    }

    /// DESIGN.md: `current`, `available` (or null), `status`, `reason`; plus details.
    static func jsonObject(_ result: FirmwareCheckResult) -> [String: Any] {
        [
            "status": result.status.rawValue, "checked": result.checked, "current": result.current.json,
            "available": result.available.json, "available_url": result.availableURL.json,
            "available_size": result.availableSize.json, "notes": result.notes.json, "reason": result.reason.json,
            "highest_seen": result.highestSeen.json,
        ]
    }

    private static func configured(_ agent: Agent) throws -> FirmwareConfiguration {
        guard let firmware = agent.configuration.firmware else {
            throw CommandError(.usage, "no firmware section in \(agent.configuration.file): there is no feed to check")
        }
        return firmware
    }
}
