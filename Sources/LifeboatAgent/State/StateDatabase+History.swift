import Foundation
import GRDB

/// How long the state database keeps history, so that years of runs and bursts of PBX events do not
/// grow it without end.
extension StateDatabase {
    /// Runs are kept this long (about 13 months: a year of monthly comparisons).
    public static let runHistory: TimeInterval = 400 * 86_400
    /// Events are kept this long.
    public static let eventHistory: TimeInterval = 180 * 86_400

    /// Deletes runs that started more than `runs` seconds before `now` and events older than `events`
    /// seconds. Never deleted: a running run, each job's newest run, its newest fully successful run,
    /// and its newest run that committed on each store (what `status` and staleness are computed from),
    /// and the events of a notification still pending. Finished notifications go with the events.
    /// Returns how many runs and events went.
    @discardableResult
    public func pruneHistory(now: Date, runs: TimeInterval = runHistory, events: TimeInterval = eventHistory) throws
        -> (runs: Int, events: Int)
    {
        try write("prune old runs and events") { db in
            try db.execute(
                sql: """
                    DELETE FROM runs
                    WHERE started_at < ? AND result <> 'running'
                      AND id NOT IN (SELECT MAX(id) FROM runs GROUP BY job)
                      AND id NOT IN (SELECT run_id FROM job_last_success)
                      AND id NOT IN (SELECT run_id FROM store_last_success)
                    """,
                arguments: [now.addingTimeInterval(-runs)])
            let runCount = db.changesCount
            let eventsBefore = now.addingTimeInterval(-events)
            // Finished notifications go with their events; a pending one keeps its events.
            try db.execute(
                sql: "DELETE FROM notifications WHERE state <> 'pending' AND created_at < ?", arguments: [eventsBefore])
            try db.execute(
                sql: """
                    DELETE FROM events WHERE time < ?
                      AND seq NOT IN (SELECT event_seq FROM notification_events)
                    """,
                arguments: [eventsBefore])
            return (runCount, db.changesCount)
        }
    }
}
