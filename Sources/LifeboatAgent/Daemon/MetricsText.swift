import Foundation
import LifeboatCore

/// The daemon's metrics in the Prometheus text exposition format (version 0.0.4), computed from the
/// configuration and the state database at each scrape, so they survive restarts and agree with
/// `lifeboat status`.
public enum MetricsText {
    /// The content type Prometheus expects for this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(configuration: Configuration, state: StateDatabase, now: Date) throws -> String {
        var out = MetricsWriter()
        let counts = try state.runCounts()
        var statuses: [JobStatus] = []
        for job in configuration.jobs {
            statuses.append(try JobStatus(job: job, state: state, now: now, recentRuns: 0))
        }

        out.family("lifeboat_job_last_success_timestamp_seconds", "gauge", "End of the newest run that succeeded on every store (0: never).")
        for status in statuses {
            out.sample(["job": status.job], seconds(status.lastSuccess?.endedAt))
        }
        out.family("lifeboat_store_last_success_timestamp_seconds", "gauge", "End of the newest run that committed a snapshot of the job on the store (0: never).")
        for status in statuses {
            for store in status.stores {
                out.sample(["job": status.job, "store": store.store], seconds(store.lastSuccess?.endedAt))
            }
        }
        out.family("lifeboat_job_stale", "gauge", "1 when some store of the job has no snapshot newer than stale_after.")
        for status in statuses { out.sample(["job": status.job], status.isStale ? 1 : 0) }
        out.family("lifeboat_job_running", "gauge", "1 while a run of the job is going on.")
        for status in statuses { out.sample(["job": status.job], status.running == nil ? 0 : 1) }
        out.family("lifeboat_job_next_run_timestamp_seconds", "gauge", "The next scheduled fire time (0: none).")
        for status in statuses { out.sample(["job": status.job], seconds(status.nextRun)) }
        out.family("lifeboat_job_last_run_timestamp_seconds", "gauge", "Start of the newest finished or interrupted run (0: none).")
        for status in statuses { out.sample(["job": status.job], seconds(status.lastRun?.startedAt)) }
        out.family("lifeboat_job_last_run_duration_seconds", "gauge", "How long the newest finished run took.")
        for status in statuses {
            if let run = status.lastRun, let end = run.endedAt {
                out.sample(["job": status.job], end.timeIntervalSince(run.startedAt))
            }
        }
        out.family("lifeboat_job_last_run_archive_bytes", "gauge", "Size of the archive the newest finished run wrote.")
        for status in statuses {
            if let bytes = status.lastRun?.archiveBytes { out.sample(["job": status.job], Double(bytes)) }
        }
        out.family("lifeboat_job_last_run_success", "gauge", "1 when the newest finished run succeeded on every store.")
        for status in statuses {
            if let run = status.lastRun { out.sample(["job": status.job], run.result == .succeeded ? 1 : 0) }
        }
        out.family("lifeboat_job_runs_total", "counter", "Runs recorded in the state database, by result.")
        for status in statuses {
            for (result, count) in (counts[status.job] ?? [:]).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                out.sample(["job": status.job, "result": result.rawValue], Double(count))
            }
        }
        out.family("lifeboat_store_failures_total", "counter", "Runs whose snapshot did not reach the store.")
        let failures = try state.storeFailureCounts()
        for key in failures.keys.sorted(by: { ($0.job, $0.store) < ($1.job, $1.store) }) {
            out.sample(["job": key.job, "store": key.store], Double(failures[key] ?? 0))
        }
        out.family("lifeboat_events_total", "counter", "Events recorded in the event log, by level.")
        for (level, count) in try state.eventCounts().sorted(by: { $0.key < $1.key }) {
            out.sample(["level": level.rawValue], Double(count))
        }
        let outbox = try state.outboxCounts()
        out.family(
            "lifeboat_notifications", "gauge",
            "Notifications in the outbox, by state (pending: not yet delivered; failed: given up).")
        for name in ["pending", "delivered", "failed", "merged"] {
            out.sample(["state": name], Double(outbox.byState[name] ?? 0))
        }
        out.family(
            "lifeboat_notifications_oldest_pending_seconds", "gauge",
            "Age of the oldest notification not yet delivered (0 when none is pending).")
        out.sample([:], outbox.oldestPending.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        return out.text
    }

    private static func seconds(_ date: Date?) -> Double {
        date.map { $0.timeIntervalSince1970 } ?? 0
    }
}

/// Writes metric families: `# HELP`, `# TYPE`, then samples with escaped label values.
struct MetricsWriter {
    private(set) var text = ""
    private var name = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        self.name = name
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ labels: [String: String], _ value: Double) {
        let rendered = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escape($0.value))\"" }
        text += name + (rendered.isEmpty ? "" : "{" + rendered.joined(separator: ",") + "}") + " " + Self.format(value) + "\n"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.3f", value)
    }
}
