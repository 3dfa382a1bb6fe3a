import Foundation
import LifeboatCore

/// The JSON forms of `lifeboat status --json`. The field names are a contract (README, "Using it"):
/// fields may be added, never renamed or removed. Times are ISO 8601 UTC (`…Z`); absent values are `null`.
extension JobStatus {
    public var jsonObject: [String: Any] {
        [
            "job": job,
            "schedule": schedule.json,
            "timezone": timeZoneName,
            "schedule_error": scheduleError.json,
            "next_run": nextRun.map(Timestamp.iso8601).json,
            "stale_after_seconds": staleAfter.json,
            "stale": isStale,
            "stale_since": staleSince.map(Timestamp.iso8601).json,
            "ok": isOK,
            "problems": problems,
            "running": running.map(Self.jsonObject).json,
            "last_run": lastRun.map(Self.jsonObject).json,
            "last_success": lastSuccess.map { run -> [String: Any] in
                [
                    "run_id": run.id.rawValue, "snapshot": run.snapshot.json,
                    "started": Timestamp.iso8601(run.startedAt), "ended": run.endedAt.map(Timestamp.iso8601).json,
                ]
            }.json,
            "stores": stores.map { store -> [String: Any] in
                [
                    "store": store.store,
                    "last_success": store.lastSuccess.map { s -> [String: Any] in
                        [
                            "run_id": s.run.rawValue, "snapshot": s.snapshot.json,
                            "started": Timestamp.iso8601(s.startedAt), "ended": Timestamp.iso8601(s.endedAt),
                            "verification": s.verification.json,
                        ]
                    }.json,
                    "stale": store.staleness.isStale,
                    "stale_since": store.staleness.since.map(Timestamp.iso8601).json,
                ]
            },
            "recent_runs": recentRuns.map(Self.jsonObject),
            "last_drill": lastDrill.flatMap { try? JSONSerialization.jsonObject(with: Data(LifeboatJSON.encode($0))) }.json,
        ]
    }

    /// One run: `id`, `job`, `trigger`, `started`, `ended`, `duration_seconds`, `result`, `snapshot`,
    /// `archive`, `archive_bytes`, `error`, `pid`, `stores`.
    public static func jsonObject(_ run: RunRecord) -> [String: Any] {
        [
            "id": run.id.rawValue,
            "job": run.job,
            "trigger": run.trigger.rawValue,
            "started": Timestamp.iso8601(run.startedAt),
            "ended": run.endedAt.map(Timestamp.iso8601).json,
            "duration_seconds": run.duration.map { ($0 * 1000).rounded() / 1000 }.json,
            "result": run.result.rawValue,
            "snapshot": run.snapshot.json,
            "archive": run.archive.json,
            "archive_bytes": run.archiveBytes.json,
            "error": run.error.json,
            "pid": Int(run.process.pid),
            "stores": run.stores.map { s -> [String: Any] in
                [
                    "store": s.store, "ok": s.ok, "verification": s.verification.json, "error": s.error.json,
                    "bytes": s.bytes.json, "retention_error": s.retentionError.json, "pruned": s.pruned,
                ]
            },
        ]
    }
}

extension Optional {
    /// The value, or JSON `null`.
    var json: Any { self.map { $0 as Any } ?? NSNull() }
}
