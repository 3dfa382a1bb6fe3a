import Foundation
import LifeboatCore
import LifeboatFirmware

/// What one check of the firmware feed found (`lifeboat firmware check`, the daemon's `check_schedule`).
public struct FirmwareCheckResult: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case upToDate = "up-to-date"
        case available
        /// The feed was fetched but failed verification (signature, product, channel, expiry, a
        /// rollback below the highest version seen, sizes, hashes, URLs).
        case refused
        /// The feed could not be fetched (network, TLS, HTTP status).
        case error
    }

    public var status: Status
    public var checked: String
    /// The running firmware version, as `pbx.firmware_version_file`/`_command` gives it.
    public var current: String?
    public var available: String?
    public var availableURL: String?
    public var availableSize: Int64?
    public var availableSHA256: String?
    public var notes: String?
    public var reason: String?
    public var highestSeen: String?

    enum CodingKeys: String, CodingKey {
        case status, checked, current, available, notes, reason
        case availableURL = "available_url"
        case availableSize = "available_size"
        case availableSHA256 = "available_sha256"
        case highestSeen = "highest_seen"
    }
}

/// Checks the feed, remembers the highest version seen and the last result in the state
/// database, and raises `firmware.available` once per new version (or `firmware.refused`).
public enum FirmwareChecker {
    static let highestSeenKey = "firmware.highest_seen"
    static let notifiedKey = "firmware.notified"
    static let lastCheckKey = "firmware.last_check"

    /// Fetches and verifies the feed now. Blocking: run it on a thread of its own.
    public static func check(
        agent: Agent, firmware: FirmwareConfiguration, state: StateDatabase, now: Date = Date()
    ) throws -> FirmwareCheckResult {
        let currentText = agent.firmwareVersion()
        var current: FirmwareVersion?
        if let currentText {
            current = try? FirmwareVersion(currentText)
            if current == nil {
                agent.logger.warning("The running firmware version is not a version", metadata: ["version": "\(currentText)"])
            }
        }
        let highestSeen = try state.setting(highestSeenKey).flatMap { try? FirmwareVersion($0.value) }
        var result = FirmwareCheckResult(
            status: .upToDate, checked: Timestamp.iso8601(now), current: currentText,
            highestSeen: highestSeen?.text)
        do {
            let fetcher = try FeedFetcher(feedURL: firmware.feedURL, policy: firmware.policy, caFile: firmware.caFile)
            let checked = try fetcher.check(now: now, highestSeen: highestSeen, current: current)
            if let seen = checked.highestSeen {
                // Only ever upwards, even with another process checking at the same time.
                let stored = try state.updateSetting(highestSeenKey, at: now) { old in
                    guard let old, let oldVersion = try? FirmwareVersion(old), oldVersion >= seen else { return seen.text }
                    return old
                }
                result.highestSeen = stored
            }
            if let release = checked.available {
                result.status = .available
                result.available = release.version.text
                result.availableURL = release.url
                result.availableSize = release.size
                result.availableSHA256 = release.sha256
                result.notes = release.notes
                try announce(release, current: currentText, firmware: firmware, state: state, now: now)
            }
        } catch let error as FirmwareError {
            result.status = Self.isFetchFailure(error) ? .error : .refused
            result.reason = error.message
            if result.status == .refused {
                try state.recordEvent(
                    Event(
                        type: AgentEvent.firmwareRefused, level: .warning, time: now, source: "agent",
                        attributes: ["feed": firmware.feedURL, "error": error.message],
                        message: "The firmware feed was refused: \(error.message)"))
            }
        }
        try state.setSetting(lastCheckKey, to: String(decoding: try LifeboatJSON.encode(result), as: UTF8.self), at: now)
        return result
    }

    /// The release a result offers, or nil.
    public static func release(of result: FirmwareCheckResult) -> FirmwareRelease? {
        guard result.status == .available, let text = result.available, let version = try? FirmwareVersion(text),
            let url = result.availableURL, let size = result.availableSize, let sha256 = result.availableSHA256
        else { return nil }
        return FirmwareRelease(version: version, url: url, size: size, sha256: sha256, notes: result.notes)
    }

    /// The result of the last check, or nil.
    public static func lastCheck(state: StateDatabase) throws -> FirmwareCheckResult? {
        guard let stored = try state.setting(lastCheckKey) else { return nil }
        return try? LifeboatJSON.decode(FirmwareCheckResult.self, from: Array(stored.value.utf8))
    }

    /// `firmware.available` (New System Firmware Detected), once per version.
    private static func announce(
        _ release: FirmwareRelease, current: String?, firmware: FirmwareConfiguration, state: StateDatabase, now: Date
    ) throws {
        var isNew = false
        try state.updateSetting(notifiedKey, at: now) { old in
            isNew = old != release.version.text
            return release.version.text
        }
        guard isNew else { return }
        var attributes = ["version": release.version.text, "url": release.url, "size": "\(release.size)"]
        attributes["current"] = current
        try state.recordEvent(
            Event(
                type: AgentEvent.firmwareAvailable, level: .warning, time: now, source: "agent",
                attributes: attributes,
                message: "New system firmware detected: \(release.version.text)"
                    + (current.map { " (running \($0))" } ?? "") + (release.notes.map { ". \($0)" } ?? "")))
    }

    /// A failure to fetch the feed rather than a verdict on it.
    static func isFetchFailure(_ error: FirmwareError) -> Bool {
        [.unavailable, .notFound, .httpStatus, .tls, .transferFailed, .cancelled, .io, .invalidURL].contains(error.code)
    }
}
