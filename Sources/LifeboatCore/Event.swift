import Foundation

/// Something that happened, on the agent or on the PBX, that operators may need to hear about.
///
/// Every event is written to the event log in the state database before anything else is done
/// with it; the relay then routes it to contacts by level and type.
public struct Event: Sendable, Hashable, Codable {
    /// A stable, unique id (`evt_` + 26 characters: time-ordered, then random).
    public var id: String
    /// A lower-case dotted type id (`backup.failed`, `pbx.web_user_locked_out`).
    public var type: String
    public var level: EventLevel
    public var time: Date
    /// Where it came from: `agent`, `cli`, `api`, or a name the sender gave.
    public var source: String
    /// Free-form details (`job`, `store`, `error`, `ip`, `extension`, …).
    public var attributes: [String: String]
    /// A sentence for people; nil when the type and attributes say it all.
    public var message: String?

    public init(
        id: String = Event.newID(), type: String, level: EventLevel, time: Date, source: String,
        attributes: [String: String] = [:], message: String? = nil
    ) {
        self.id = id
        self.type = type
        self.level = level
        self.time = time
        self.source = source
        self.attributes = attributes
        self.message = message
    }

    /// Whether `type` is a well-formed type id: `[a-z0-9_]+(\.[a-z0-9_]+)*`, at most 128 characters.
    public static func isWellFormedType(_ type: String) -> Bool {
        guard !type.isEmpty, type.utf8.count <= 128 else { return false }
        return type.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        }
    }

    /// A new id: 48 bits of milliseconds and 80 random bits in Crockford base 32, so that ids sort by time.
    public static func newID(at date: Date = Date()) -> String {
        let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)
        var millis = UInt64(max(0, date.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        var time = [UInt8](repeating: 0, count: 10)
        for i in (0..<10).reversed() {
            time[i] = alphabet[Int(millis & 31)]
            millis >>= 5
        }
        var random = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<16 { random[i] = alphabet[Int(generator.next() & 31)] }
        return "evt_" + String(decoding: time + random, as: UTF8.self)
    }
}

/// How urgent an event is: Yeastar's three levels.
public enum EventLevel: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case information, warning, alert

    private var rank: Int {
        switch self {
        case .information: 0
        case .warning: 1
        case .alert: 2
        }
    }

    public static func < (a: EventLevel, b: EventLevel) -> Bool { a.rank < b.rank }
}

/// The agent's own event types (DESIGN.md).
public enum AgentEvent {
    public static let backupSucceeded = "backup.succeeded"
    public static let backupFailed = "backup.failed"
    public static let backupPartial = "backup.partial"
    /// A scheduled run did not start because the previous run of the job was still going.
    public static let backupSkipped = "backup.skipped"
    public static let backupStale = "backup.stale"
    public static let uploadFailed = "upload.failed"
    public static let storeUnreachable = "store.unreachable"
    public static let verifyFailed = "verify.failed"
    public static let retentionPruned = "retention.pruned"
    public static let restoreDone = "restore.done"
    /// An in-place restore failed; what was there has been put back (or the message says what was not).
    public static let restoreFailed = "restore.failed"
    public static let firmwareAvailable = "firmware.available"
    /// The pre-upgrade backup committed and the firmware install command is about to run: the last
    /// word if the PBX never comes back.
    public static let firmwareInstallStarted = "firmware.install_started"
    public static let firmwareInstalled = "firmware.installed"
    public static let firmwareFailed = "firmware.failed"
    public static let firmwareRolledBack = "firmware.rolled_back"
    /// The firmware feed failed verification (a bad signature, a rollback, an expired feed, …).
    public static let firmwareRefused = "firmware.refused"
    public static let notifierFailed = "notifier.failed"
    public static let configReloaded = "config.reloaded"
    public static let configRefused = "config.refused"
    /// The daemon started (information) or stopped (information; warning when a run was cut short).
    public static let daemonStarted = "daemon.started"
    public static let daemonStopped = "daemon.stopped"
}
