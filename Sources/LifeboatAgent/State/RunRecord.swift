import Foundation

/// The row id of a run in the state database.
public struct RunID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }

    public static func < (a: RunID, b: RunID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "\(rawValue)" }
}

/// What started a run. Stored as text, so values written by a later version are kept as they are.
public struct RunTrigger: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// `lifeboat backup` (or the demo) by hand or from cron.
    public static var manual: RunTrigger { RunTrigger(rawValue: "manual") }
    /// The daemon, at a fire time of the job's schedule.
    public static var schedule: RunTrigger { RunTrigger(rawValue: "schedule") }
    /// The daemon at start-up, for a fire time missed while it was down.
    public static var catchUp: RunTrigger { RunTrigger(rawValue: "catch-up") }
    /// A restore drill.
    public static var drill: RunTrigger { RunTrigger(rawValue: "drill") }

    public var description: String { rawValue }
}

/// How a run ended, or that it is still going. Stored as text.
public struct RunResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Inserted when a run starts; replaced when it ends.
    public static var running: RunResult { RunResult(rawValue: "running") }
    /// Every store committed and checked the snapshot (and retention, where configured, worked).
    public static var succeeded: RunResult { RunResult(rawValue: "succeeded") }
    /// Some stores have the snapshot, others failed; or retention failed after a good backup.
    public static var partial: RunResult { RunResult(rawValue: "partial") }
    /// No store has a snapshot of this run.
    public static var failed: RunResult { RunResult(rawValue: "failed") }
    /// Not run: the job was still running from before.
    public static var skipped: RunResult { RunResult(rawValue: "skipped") }
    /// The process ended without recording a result (killed, crashed, or the machine went down).
    public static var interrupted: RunResult { RunResult(rawValue: "interrupted") }

    /// A run that did not end well: it needs someone to look at it.
    public var needsAttention: Bool { self == .failed || self == .partial || self == .interrupted }

    public var description: String { rawValue }
}

/// How one store fared in a run, as recorded.
public struct StoreRunRecord: Sendable, Hashable {
    /// The store's configured name.
    public var store: String
    /// True when the snapshot is committed and checked there.
    public var ok: Bool
    /// How the store confirmed the upload beyond its size (`SIZE`, `HASH`, a checksum), when it could.
    public var verification: String?
    /// Why the store failed.
    public var error: String?
    /// The archive bytes stored there (nil when it failed).
    public var bytes: Int64?
    /// Why retention failed after the snapshot was committed there.
    public var retentionError: String?
    /// How many snapshots retention deleted there.
    public var pruned: Int

    public init(
        store: String, ok: Bool, verification: String? = nil, error: String? = nil, bytes: Int64? = nil,
        retentionError: String? = nil, pruned: Int = 0
    ) {
        self.store = store
        self.ok = ok
        self.verification = verification
        self.error = error
        self.bytes = bytes
        self.retentionError = retentionError
        self.pruned = pruned
    }
}

/// What a finished run is recorded with.
public struct RunOutcome: Sendable, Hashable {
    public var result: RunResult
    /// The snapshot the run made, if it got that far.
    public var snapshot: String?
    /// The archive's object name on the stores.
    public var archive: String?
    /// The archive's size.
    public var archiveBytes: Int64?
    /// What went wrong (for a partial run, the stores' errors).
    public var error: String?
    public var stores: [StoreRunRecord]

    public init(
        result: RunResult, snapshot: String? = nil, archive: String? = nil, archiveBytes: Int64? = nil,
        error: String? = nil, stores: [StoreRunRecord] = []
    ) {
        self.result = result
        self.snapshot = snapshot
        self.archive = archive
        self.archiveBytes = archiveBytes
        self.error = error
        self.stores = stores
    }

    /// A run that ended with an error before any store had an outcome.
    public static func failed(_ error: String) -> RunOutcome {
        RunOutcome(result: .failed, error: error)
    }
}

/// One run of a job, as recorded in the state database.
public struct RunRecord: Sendable, Hashable {
    public var id: RunID
    public var job: String
    public var trigger: RunTrigger
    public var startedAt: Date
    /// Nil while running, and for an interrupted run (its end was never seen).
    public var endedAt: Date?
    public var result: RunResult
    public var snapshot: String?
    public var archive: String?
    public var archiveBytes: Int64?
    public var error: String?
    /// The process that ran it.
    public var process: ProcessIdentity
    public var agentVersion: String
    /// Per-store outcomes, in the order they were recorded.
    public var stores: [StoreRunRecord]

    /// Seconds from start to end, when the end is known.
    public var duration: TimeInterval? { endedAt.map { $0.timeIntervalSince(startedAt) } }
}

/// The newest snapshot of a job that a store committed.
public struct StoreSuccess: Sendable, Hashable {
    public var store: String
    public var run: RunID
    public var snapshot: String?
    public var startedAt: Date
    /// When the run ended: the snapshot was committed on the store by then.
    public var endedAt: Date
    public var verification: String?
}

/// A job and one of its stores.
public struct StoreFailureKey: Sendable, Hashable {
    public var job: String
    public var store: String
}

/// One entry of the state database's key/value table.
public struct StateSetting: Sendable, Hashable {
    public var key: String
    public var value: String
    public var updatedAt: Date
}
