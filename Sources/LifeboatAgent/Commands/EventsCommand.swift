import Foundation
import LifeboatCore

/// `lifeboat events`: reads the event log in the state database.
public enum EventsCommand {
    public static func run(
        agent: Agent, since: String?, type: String?, level: String?, limit: Int?, json: Bool, now: Date = Date()
    ) throws -> ExitStatus {
        var sinceDate: Date?
        if let since {
            if let seconds = DurationText.seconds(since) {
                sinceDate = now.addingTimeInterval(-TimeInterval(seconds))
            } else if let date = Timestamp.parseISO8601(since) {
                sinceDate = date
            } else {
                throw CommandError(.usage, "--since: expected a duration such as 24h or an ISO 8601 time, not '\(since)'")
            }
        }
        var minimumLevel: EventLevel?
        if let level {
            guard let parsed = EventLevel(rawValue: level) else {
                throw CommandError(
                    .usage, "--level: expected one of \(EventLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            minimumLevel = parsed
        }
        if let limit, limit <= 0 { throw CommandError(.usage, "--limit must be positive") }
        let state = try StateDatabase.openExisting(stateDirectory: agent.configuration.stateDirectory, now: now)
        let events = try state?.events(since: sinceDate, type: type, minimumLevel: minimumLevel, limit: limit) ?? []
        if json {
            Console.printJSON(events.map(jsonObject))
            return .success
        }
        if events.isEmpty {
            Console.out("no events")
            return .success
        }
        for event in events {
            let attributes = event.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            var line = "\(Timestamp.iso8601(event.time))  \(event.level.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(event.type)"
            if let message = event.message { line += "  \(message)" }
            if event.message == nil && !attributes.isEmpty { line += "  " + attributes.joined(separator: " ") }
            Console.out(line)
        }
        return .success
    }

    /// The JSON form (DESIGN.md): `id`, `time`, `type`, `level`, `source`, `attributes`, `message`.
    public static func jsonObject(_ event: Event) -> [String: Any] {
        [
            "id": event.id, "time": Timestamp.iso8601(event.time), "type": event.type, "level": event.level.rawValue,
            "source": event.source, "attributes": event.attributes, "message": event.message.json,
        ]
    }
}
