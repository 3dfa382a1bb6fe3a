import Foundation
import GRDB
import LifeboatCore
import LifeboatNotify

/// One notification in the outbox: events for one contact, sent by one of its methods.
public struct OutboxNotification: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Waiting to be sent (or retried) at `dueAt`.
        case pending
        case delivered
        /// Given up: every method failed for good, or `max_delivery_age` passed.
        case failed
        /// Folded into a summary (`mergedInto`) with the contact's other pending notifications.
        case merged
    }

    /// The idempotency key (`ntf_…`), the stem of the email's Message-ID.
    public var id: String
    public var contact: String
    /// The event type (and job) its events share; `*` for a summary of several groups.
    public var groupKey: String
    public var state: State
    /// Which of the contact's methods is in use.
    public var methodIndex: Int
    /// The method of the last attempt, as configured (`email`).
    public var method: String?
    /// Failed attempts with the current method.
    public var attempts: Int
    public var dueAt: Date
    public var createdAt: Date
    /// Set before the first send; no event joins a notification after it.
    public var firstAttemptAt: Date?
    public var lastError: String?
    public var deliveredAt: Date?
    /// Its events, oldest first.
    public var events: [Event]
}

/// The relay's durable outbox. Every step is one transaction, so a crash at any moment leaves each
/// event either not yet routed (the cursor did not move) or in a notification that will be sent
/// (again: delivery is at least once, under the same id).
extension StateDatabase {
    /// The settings key holding the sequence number of the last event routed.
    static let relayCursorKey = "relay.cursor"

    /// Routes events recorded after the relay's cursor to `contacts`, in one transaction with the
    /// cursor's move: each event joins the open notification of its (contact, group), or opens one
    /// due `group_wait` after the event (or at the group's last delivery + `repeat_interval`). Events older
    /// than `max_delivery_age` are passed over. Returns how many events were read.
    @discardableResult
    public func routeEvents(contacts: [Contact], policy: RelayPolicy, now: Date, batch: Int = 5000) throws -> Int {
        // Usually there is nothing new: find that out without taking the write lock.
        let pending = try read { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT coalesce((SELECT max(seq) FROM events), 0)
                         > coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?), 0)
                    """,
                arguments: [Self.relayCursorKey]) ?? false
        }
        guard pending else { return 0 }
        return try write("route events to contacts") { db in
            let cursor = Int64(try String.fetchOne(
                db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [Self.relayCursorKey]) ?? "0") ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [cursor, batch])
            guard let last = rows.last else { return 0 }
            let oldest = now.addingTimeInterval(-policy.maxDeliveryAge)
            // The open notification of each (contact, group) and its event count, as this batch goes.
            var open: [String: (id: String, count: Int)] = [:]
            for row in rows {
                let event = Self.event(from: row)
                guard event.time >= oldest else { continue }
                let seq: Int64 = row["seq"]
                for contact in contacts where contact.wants(event) {
                    let key = RelayPolicy.groupKey(of: event)
                    let slot = contact.name + "\u{0}" + key
                    if open[slot] == nil, let row = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT n.id, (SELECT count(*) FROM notification_events e WHERE e.notification_id = n.id)
                            FROM notifications n
                            WHERE n.contact = ? AND n.group_key = ? AND n.state = 'pending' AND n.first_attempt_at IS NULL
                            ORDER BY n.created_at DESC LIMIT 1
                            """,
                        arguments: [contact.name, key])
                    {
                        open[slot] = (row[0], row[1])
                    }
                    var id: String
                    if let current = open[slot], current.count < policy.maximumEvents {
                        id = current.id
                    } else {
                        let lastDelivered = try Date.fetchOne(
                            db,
                            sql: "SELECT last_delivered_at FROM notification_groups WHERE contact = ? AND group_key = ?",
                            arguments: [contact.name, key])
                        // group_wait counts from the event; one routed late (the daemon was down) is due at once.
                        var due = min(event.time, now).addingTimeInterval(policy.groupWait)
                        if let lastDelivered { due = max(due, lastDelivered.addingTimeInterval(policy.repeatInterval)) }
                        id = Self.newNotificationID(at: now)
                        try db.execute(
                            sql: """
                                INSERT INTO notifications (id, contact, group_key, state, due_at, created_at)
                                VALUES (?, ?, ?, 'pending', ?, ?)
                                """,
                            arguments: [id, contact.name, key, due, min(event.time, now)])
                        open[slot] = (id, 0)
                    }
                    open[slot]?.count += 1
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO notification_events (notification_id, event_seq, group_key) VALUES (?, ?, ?)",
                        arguments: [id, seq, key])
                }
            }
            let newCursor: Int64 = last["seq"]
            try db.execute(
                sql: "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                arguments: [Self.relayCursorKey, String(newCursor), now])
            return rows.count
        }
    }

    /// Pending notifications due at `now` or before, oldest due first, with their events.
    public func dueNotifications(now: Date) throws -> [OutboxNotification] {
        try read { db in
            try Self.fetchNotifications(
                db, where: "state = 'pending' AND due_at <= ?", arguments: [now], order: "due_at, created_at")
        }
    }

    /// When the earliest pending notification not in `excluding` (being sent) is due, or nil.
    public func nextNotificationDue(excluding: Set<String> = []) throws -> Date? {
        try read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, due_at FROM notifications WHERE state = 'pending' ORDER BY due_at LIMIT ?",
                arguments: [excluding.count + 1])
            return rows.first { !excluding.contains($0[0]) }.map { $0[1] }
        }
    }

    /// One notification with its events, or nil.
    public func notification(_ id: String) throws -> OutboxNotification? {
        try read { db in try Self.fetchNotifications(db, where: "id = ?", arguments: [id], order: "id").first }
    }

    /// Notifications (of `contact`, in `state`, or all), newest first, with their events.
    public func notifications(contact: String? = nil, state: OutboxNotification.State? = nil, limit: Int = 100)
        throws -> [OutboxNotification]
    {
        var conditions = ["1"]
        var arguments: [any DatabaseValueConvertible] = []
        if let contact {
            conditions.append("contact = ?")
            arguments.append(contact)
        }
        if let state {
            conditions.append("state = ?")
            arguments.append(state.rawValue)
        }
        return try read { db in
            try Self.fetchNotifications(
                db, where: conditions.joined(separator: " AND "), arguments: StatementArguments(arguments),
                order: "created_at DESC, id DESC LIMIT \(max(0, limit))")
        }
    }

    /// Folds the pending notifications `ids` of one contact into one new summary notification due
    /// now, which carries all their events; they become `merged`. Returns the summary.
    public func mergeNotifications(_ ids: [String], contact: String, methodIndex: Int, now: Date) throws
        -> OutboxNotification
    {
        let summary = Self.newNotificationID(at: now)
        try write("merge \(ids.count) notifications of \(contact)") { db in
            let placeholders = ids.map { _ in "?" }.joined(separator: ",")
            let created = try Date.fetchOne(
                db, sql: "SELECT min(created_at) FROM notifications WHERE id IN (\(placeholders))",
                arguments: StatementArguments(ids)) ?? now
            try db.execute(
                sql: """
                    INSERT INTO notifications (id, contact, group_key, state, method_index, due_at, created_at)
                    VALUES (?, ?, '*', 'pending', ?, ?, ?)
                    """,
                arguments: [summary, contact, methodIndex, now, created])
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO notification_events (notification_id, event_seq, group_key)
                    SELECT ?, event_seq, group_key FROM notification_events WHERE notification_id IN (\(placeholders))
                    """,
                arguments: StatementArguments([summary] + ids))
            try db.execute(
                sql: """
                    UPDATE notifications SET state = 'merged', merged_into = ?
                    WHERE id IN (\(placeholders)) AND state = 'pending'
                    """,
                arguments: StatementArguments([summary] + ids))
        }
        guard let merged = try notification(summary) else {
            throw StateError(.notFound, "summary notification \(summary) is not in the state database \(path)")
        }
        return merged
    }

    /// Records that `id` is about to be sent by `method`: from now on no event joins it.
    public func beginDelivery(_ id: String, method: String, now: Date) throws {
        try write("record an attempt of notification \(id)") { db in
            try db.execute(
                sql: "UPDATE notifications SET method = ?, first_attempt_at = coalesce(first_attempt_at, ?) WHERE id = ?",
                arguments: [method, now, id])
        }
    }

    /// Records that `id` was delivered, and when each of its groups last went to its contact.
    public func markDelivered(_ id: String, now: Date) throws {
        try write("record the delivery of notification \(id)") { db in
            try db.execute(
                sql: "UPDATE notifications SET state = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ?",
                arguments: [now, id])
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO notification_groups (contact, group_key, last_delivered_at)
                    SELECT DISTINCT n.contact, e.group_key, ? FROM notification_events e
                    JOIN notifications n ON n.id = e.notification_id WHERE n.id = ?
                    """,
                arguments: [now, id])
        }
    }

    /// Records a failed attempt to retry at `retryAt` with the same method.
    public func markRetry(_ id: String, error: String, retryAt: Date) throws {
        try write("record a failed attempt of notification \(id)") { db in
            try db.execute(
                sql: "UPDATE notifications SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?",
                arguments: [error, retryAt, id])
        }
    }

    /// Moves `id` to the contact's method `methodIndex`, due at `now`, and records `event`
    /// (`notifier.failed`) in the same transaction.
    public func markFallback(_ id: String, to methodIndex: Int, error: String, now: Date, event: Event?) throws {
        try write("record the fallback of notification \(id)") { db in
            try db.execute(
                sql: """
                    UPDATE notifications SET method_index = ?, attempts = 0, last_error = ?, due_at = ? WHERE id = ?
                    """,
                arguments: [methodIndex, error, now, id])
            if let event { _ = try Self.insertEvent(db, event, at: now) }
        }
        eventsRecorded.signal()
    }

    /// Gives `id` up and records `event` (`notifier.failed`) in the same transaction.
    public func markFailed(_ id: String, error: String, now: Date, event: Event?) throws {
        try write("record that notification \(id) failed") { db in
            try db.execute(
                sql: "UPDATE notifications SET state = 'failed', last_error = ? WHERE id = ?", arguments: [error, id])
            if let event { _ = try Self.insertEvent(db, event, at: now) }
        }
        eventsRecorded.signal()
    }

    /// Makes every notification waiting for a retry due at `now` (the daemon started: its
    /// configuration or the servers may have been fixed meanwhile). Returns how many.
    @discardableResult
    public func resumeRetries(now: Date) throws -> Int {
        try write("resume notifications waiting for a retry") { db in
            try db.execute(
                sql: """
                    UPDATE notifications SET due_at = ?
                    WHERE state = 'pending' AND first_attempt_at IS NOT NULL AND due_at > ?
                    """,
                arguments: [now, now])
            return db.changesCount
        }
    }

    /// Moves the due time of `id` (a rate limit reached); events keep joining it meanwhile.
    public func deferNotification(_ id: String, until date: Date) throws {
        try write("defer notification \(id)") { db in
            try db.execute(sql: "UPDATE notifications SET due_at = ? WHERE id = ?", arguments: [date, id])
        }
    }

    /// When `contact`'s notifications delivered after `since` were delivered, oldest first.
    public func deliveries(contact: String, since: Date) throws -> [Date] {
        try read { db in
            try Date.fetchAll(
                db,
                sql: """
                    SELECT delivered_at FROM notifications
                    WHERE contact = ? AND state = 'delivered' AND delivered_at > ? ORDER BY delivered_at
                    """,
                arguments: [contact, since])
        }
    }

    /// How many notifications are in each state, and when the oldest pending one was created.
    public func outboxCounts() throws -> (byState: [String: Int], oldestPending: Date?) {
        try read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) FROM notifications GROUP BY state") {
                counts[row[0]] = row[1]
            }
            let oldest = try Date.fetchOne(
                db, sql: "SELECT min(created_at) FROM notifications WHERE state = 'pending'")
            return (counts, oldest)
        }
    }

    // MARK: - Rows

    static func newNotificationID(at date: Date) -> String {
        "ntf_" + Event.newID(at: date).dropFirst("evt_".count)
    }

    static func fetchNotifications(_ db: Database, where condition: String, arguments: StatementArguments, order: String)
        throws -> [OutboxNotification]
    {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM notifications WHERE \(condition) ORDER BY \(order)", arguments: arguments)
        return try rows.map { row in
            let id: String = row["id"]
            let events = try Row.fetchAll(
                db,
                sql: """
                    SELECT ev.* FROM notification_events ne JOIN events ev ON ev.seq = ne.event_seq
                    WHERE ne.notification_id = ? ORDER BY ev.seq
                    """,
                arguments: [id]
            ).map(Self.event(from:))
            return OutboxNotification(
                id: id, contact: row["contact"], groupKey: row["group_key"],
                state: OutboxNotification.State(rawValue: row["state"]) ?? .failed, methodIndex: row["method_index"],
                method: row["method"], attempts: row["attempts"], dueAt: row["due_at"], createdAt: row["created_at"],
                firstAttemptAt: row["first_attempt_at"], lastError: row["last_error"],
                deliveredAt: row["delivered_at"], events: events)
        }
    }
}
