import Foundation
import LifeboatCore

/// `lifeboat notifications`: the relay's outbox — what was sent to whom, what waits, and what failed and why.
public enum NotificationsCommand {
    public static func run(agent: Agent, contact: String?, pending: Bool, limit: Int, json: Bool) throws -> ExitStatus {
        guard limit > 0 else { throw CommandError(.usage, "--limit must be positive") }
        let state = try StateDatabase.openExisting(stateDirectory: agent.configuration.stateDirectory)
        let notifications =
            try state?.notifications(contact: contact, state: pending ? .pending : nil, limit: limit) ?? []
        if json {
            Console.printJSON(notifications.map(jsonObject))
            return .success
        }
        if notifications.isEmpty {
            Console.out(pending ? "no notification is pending" : "no notifications")
            return .success
        }
        for n in notifications.reversed() {
            var line = "\(Timestamp.iso8601(n.createdAt))  \(n.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(n.contact)"
            line += "  \(n.events.count) event\(n.events.count == 1 ? "" : "s") (\(n.groupKey))"
            if let method = n.method { line += "  by \(method)" }
            switch n.state {
            case .delivered: line += n.deliveredAt.map { " at \(Timestamp.iso8601($0))" } ?? ""
            case .pending: line += "  due \(Timestamp.iso8601(n.dueAt))"
            case .failed, .merged: break
            }
            if let error = n.lastError, n.state != .delivered { line += "  last error: \(error)" }
            Console.out(line)
        }
        return .success
    }

    public static func jsonObject(_ n: OutboxNotification) -> [String: Any] {
        [
            "id": n.id, "contact": n.contact, "group": n.groupKey, "state": n.state.rawValue,
            "method": n.method.json, "method_index": n.methodIndex, "attempts": n.attempts,
            "due": Timestamp.iso8601(n.dueAt), "created": Timestamp.iso8601(n.createdAt),
            "delivered": n.deliveredAt.map(Timestamp.iso8601).json, "last_error": n.lastError.json,
            "events": n.events.map(\.id),
        ]
    }
}
