import Foundation
import LifeboatCore

/// `lifeboat notify`: records an event in the event log and returns once it is on disk.
public enum NotifyCommand {
    public static func run(
        agent: Agent, type: String, level: String?, attributes: [String], message: String?, source: String,
        json: Bool, now: Date = Date()
    ) throws -> ExitStatus {
        var pairs: [(key: String, value: String)] = []
        for pair in attributes {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CommandError(.usage, "--attr: expected KEY=VALUE, not '\(pair)'")
            }
            pairs.append((String(pair[..<equals]), String(pair[pair.index(after: equals)...])))
        }
        let input = EventInput(type: type, level: level, attributes: pairs, message: message, source: source)
        let event: Event
        do {
            event = try input.event(now: now)
        } catch {
            let option = error.field == .attributes ? "attr" : error.field.rawValue
            throw CommandError(.usage, "--\(option)\(error.key.map { " \($0)" } ?? ""): \(error.reason)")
        }
        let state = try StateDatabase(stateDirectory: agent.configuration.stateDirectory, now: now)
        try state.recordEvent(event, at: now)
        if json {
            Console.printJSON(EventsCommand.jsonObject(event))
        } else {
            Console.out(event.id)
        }
        return .success
    }
}
