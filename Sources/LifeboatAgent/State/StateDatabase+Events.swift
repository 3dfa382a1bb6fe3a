import Foundation
import GRDB
import LifeboatCore

/// The event log: every event the agent raises or receives, in the order it was recorded.
///
/// An event is written here before anything else is done with it, so that a crash right after an
/// event was raised (or accepted from `lifeboat notify` or the API) cannot lose it.
extension StateDatabase {
    /// Records `event`; an event whose id is already recorded is left as it is (recording is idempotent).
    /// Returns whether it was new.
    @discardableResult
    public func recordEvent(_ event: Event, at date: Date = Date()) throws -> Bool {
        let new = try write("record event \(event.type)") { db in try Self.insertEvent(db, event, at: date) }
        eventsRecorded.signal()
        return new
    }

    /// Records several events in one transaction (one fsync for all of them); returns which were new.
    @discardableResult
    public func recordEvents(_ events: [Event], at date: Date = Date()) throws -> [Bool] {
        let new = try write("record \(events.count) events") { db in
            try events.map { try Self.insertEvent(db, $0, at: date) }
        }
        eventsRecorded.signal()
        return new
    }

    /// Inserts `event` inside a transaction the caller holds; returns whether it was new.
    static func insertEvent(_ db: Database, _ event: Event, at date: Date) throws -> Bool {
        let attributes = String(decoding: try LifeboatJSON.encode(event.attributes), as: UTF8.self)
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO events (id, type, level, time, source, attributes, message, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.id, event.type, event.level.rawValue, event.time, event.source, attributes, event.message, date,
            ])
        return db.changesCount > 0
    }

    /// Recorded events, oldest first: those at or after `since`, of a type matching the glob `type`
    /// (`backup.*`), at `level` or above; the newest `limit` of them when a limit is given.
    public func events(since: Date? = nil, type: String? = nil, minimumLevel: EventLevel? = nil, limit: Int? = nil)
        throws -> [Event]
    {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let since {
            conditions.append("time >= ?")
            arguments.append(since)
        }
        if let type {
            conditions.append("type GLOB ?")
            arguments.append(type)
        }
        if let minimumLevel {
            let levels = EventLevel.allCases.filter { $0 >= minimumLevel }.map(\.rawValue)
            conditions.append("level IN (\(levels.map { _ in "?" }.joined(separator: ", ")))")
            arguments += levels
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql =
            limit.map { "SELECT * FROM (SELECT * FROM events \(filter) ORDER BY seq DESC LIMIT \($0)) ORDER BY seq" }
            ?? "SELECT * FROM events \(filter) ORDER BY seq"
        return try read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.event(from:))
        }
    }

    /// The event in a row of `events`.
    static func event(from row: Row) -> Event {
        let attributes: [String: String] =
            (try? LifeboatJSON.decode([String: String].self, from: Array((row["attributes"] as String).utf8))) ?? [:]
        return Event(
            id: row["id"], type: row["type"], level: EventLevel(rawValue: row["level"]) ?? .alert,
            time: row["time"], source: row["source"], attributes: attributes, message: row["message"])
    }

    /// How many events of each level are in the log.
    public func eventCounts() throws -> [EventLevel: Int] {
        try read { db in
            var counts: [EventLevel: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT level, count(*) FROM events GROUP BY level") {
                if let level = EventLevel(rawValue: row[0]) { counts[level] = row[1] }
            }
            return counts
        }
    }
}
