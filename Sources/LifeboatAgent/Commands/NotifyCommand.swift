import Foundation
import LifeboatCore

/// `lifeboat notify`: records an event in the event log and returns once it is on disk.
public enum NotifyCommand {
    /// The most attributes an event may carry, and the longest attribute value or message.
    static let maximumAttributes = 64
    static let maximumValueLength = 4096

    public static func run(
        agent: Agent, type: String, level: String, attributes: [String], message: String?, source: String,
        json: Bool, now: Date = Date()
    ) throws -> ExitStatus {
        let event = try makeEvent(
            type: type, level: level, attributes: attributes, message: message, source: source, now: now)
        let state = try StateDatabase(stateDirectory: agent.configuration.stateDirectory, now: now)
        try state.recordEvent(event, at: now)
        if json {
            Console.printJSON(EventsCommand.jsonObject(event))
        } else {
            Console.out(event.id)
        }
        return .success
    }

    /// Checks the command line and builds the event; every error names the option that is wrong.
    static func makeEvent(
        type: String, level: String, attributes: [String], message: String?, source: String, now: Date
    ) throws -> Event {
        guard Event.isWellFormedType(type) else {
            throw CommandError(
                .usage, "--type: '\(type)' is not an event type (lower-case dotted words: backup.failed, pbx.cpu_overload)")
        }
        guard let eventLevel = EventLevel(rawValue: level) else {
            throw CommandError(
                .usage, "--level: expected one of \(EventLevel.allCases.map(\.rawValue).joined(separator: ", ")), not '\(level)'")
        }
        guard attributes.count <= maximumAttributes else {
            throw CommandError(.usage, "--attr: at most \(maximumAttributes) attributes")
        }
        var parsed: [String: String] = [:]
        for pair in attributes {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CommandError(.usage, "--attr: expected KEY=VALUE, not '\(pair)'")
            }
            let key = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            guard key.utf8.allSatisfy({ $0 == 0x5F || $0 == 0x2E || $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
            else {
                throw CommandError(.usage, "--attr: the key '\(key)' may hold only a-z, 0-9, '_', '.' and '-'")
            }
            guard value.utf8.count <= maximumValueLength else {
                throw CommandError(.usage, "--attr \(key): the value is longer than \(maximumValueLength) bytes")
            }
            guard parsed[key] == nil else { throw CommandError(.usage, "--attr: '\(key)' is given twice") }
            parsed[key] = value
        }
        if let message, message.utf8.count > maximumValueLength {
            throw CommandError(.usage, "--message: longer than \(maximumValueLength) bytes")
        }
        guard !source.isEmpty, source.utf8.count <= 64 else {
            throw CommandError(.usage, "--source: give 1 to 64 characters")
        }
        return Event(type: type, level: eventLevel, time: now, source: source, attributes: parsed, message: message)
    }
}
