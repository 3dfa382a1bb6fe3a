import Foundation
import LifeboatCore

/// Everything the installer has decided and done for one firmware install, saved in the
/// ``FirmwareInstallJournal`` before each step is taken.
///
/// The journal holds one record: the install under way, or the last one that finished (for
/// `lifeboat firmware status`) until the next install replaces it. A record is replaced by a new
/// plan only when it is finished (except `failed`, which waits for
/// ``FirmwareInstaller/acknowledge()``) or still `waitingForWindow`.
///
/// Events are written into the record (`pendingEvents`) in the same save as the step they belong
/// to, then recorded, then dropped from the record in the next save; so a crash between a decision
/// and its event is followed, on resume, by the event under the same id.
public struct FirmwareInstallRecord: Codable, Sendable, Equatable {
    /// One line of the step log.
    public struct LogEntry: Codable, Sendable, Equatable {
        public var time: Date
        /// The step the line was written in.
        public var step: FirmwareInstallStep
        public var message: String

        public init(time: Date, step: FirmwareInstallStep, message: String) {
            self.time = time
            self.step = step
            self.message = message
        }
    }

    /// How many lines the step log keeps; older lines are dropped.
    public static let maximumLogEntries = 32

    /// The version being installed.
    public var version: FirmwareVersion
    /// The version the PBX ran when the install was planned; nil when it could not be read.
    public var fromVersion: FirmwareVersion?
    /// The verified image handed to `install_command`.
    public var imagePath: String
    /// The image's SHA-256 (lower-case hex), as the signed feed declares it.
    public var imageSHA256: String
    /// Where the install stands.
    public var step: FirmwareInstallStep
    /// Whether the maintenance window is ignored (`lifeboat firmware install --ignore-window`).
    public var ignoresWindow: Bool
    /// When the maintenance window the install started in closes: `install_command` is not started
    /// at or after it. Nil while waiting, and when the window is ignored.
    public var windowClosesAt: Date?
    /// When the next maintenance window opens after the one the install was planned in (or, while
    /// waiting, the first one); nil when the window is ignored.
    public var nextWindowOpensAt: Date?
    /// The pre-upgrade backup, once one committed; the configuration is restored from it.
    public var snapshot: PreUpgradeSnapshot?
    /// When the install was planned.
    public var plannedAt: Date
    /// When the record was last saved.
    public var updatedAt: Date
    /// When `install_command` was started; nil until then.
    public var installStartedAt: Date?
    /// When the first health check was made; the health timeout counts from here.
    public var healthCheckStartedAt: Date?
    /// When the install finished (any finished step).
    public var finishedAt: Date?
    /// Pre-upgrade backups started, over all attempts (a crash repeats the backup).
    public var backupAttempts: Int
    /// Health checks started.
    public var healthAttempts: Int
    /// `rollback_command` runs started.
    public var rollbackAttempts: Int
    /// Configuration restores started.
    public var restoreAttempts: Int
    /// Why the install was judged failed (install command or health), kept through the rollback.
    public var failure: String?
    /// The last error of any step (a failed health attempt, a failed hook).
    public var lastError: String?
    /// What happened, step by step, oldest first; at most ``maximumLogEntries`` lines.
    public var log: [LogEntry]
    /// Events decided in the last save and not yet known to be recorded.
    public var pendingEvents: [Event]

    /// A new plan in `waitingForWindow` with no attempts made.
    public init(
        version: FirmwareVersion, fromVersion: FirmwareVersion?, imagePath: String, imageSHA256: String,
        ignoresWindow: Bool, plannedAt: Date
    ) {
        self.version = version
        self.fromVersion = fromVersion
        self.imagePath = imagePath
        self.imageSHA256 = imageSHA256
        self.step = .waitingForWindow
        self.ignoresWindow = ignoresWindow
        self.plannedAt = plannedAt
        self.updatedAt = plannedAt
        self.backupAttempts = 0
        self.healthAttempts = 0
        self.rollbackAttempts = 0
        self.restoreAttempts = 0
        self.log = []
        self.pendingEvents = []
    }

    /// Adds a line to the step log, dropping the oldest beyond ``maximumLogEntries``.
    public mutating func note(_ message: String, at time: Date) {
        log.append(LogEntry(time: time, step: step, message: message))
        if log.count > Self.maximumLogEntries { log.removeFirst(log.count - Self.maximumLogEntries) }
    }

    /// The record as the journal stores it: JSON with sorted keys; times are seconds since
    /// 2001-01-01 (Foundation's own form), so they read back as exactly the same instants.
    ///
    /// Use this (and ``init(json:)``) rather than `LifeboatJSON`: its snake-case key strategy does
    /// not read back the keys it writes for acronyms (`imageSHA256` → `image_sha256` → `imageSha256`).
    public func encodedJSON() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }

    /// Decodes a record made by ``encodedJSON()``.
    public init(json: some Collection<UInt8>) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(json))
    }
}
