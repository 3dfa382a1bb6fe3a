import LifeboatCore

extension EmailTemplate {
    /// At most this many event types are named in a digest's subject; more are summed up as `…`.
    static let digestSubjectTypes = 3

    /// One email for several events (a burst the outbox grouped), listing every one of them.
    ///
    /// The subject is `[<highest level>] <host>: <n> events (<type>, <type>, <type>, …)`, naming the
    /// distinct types in order of first occurrence. The body lists the events by time (events with
    /// the same time keep their order), each with its time, level, type, message, source, id and its
    /// attributes sorted by name:
    ///
    ///     3 events on pbx1 from 2026-11-27T01:02:03Z to 2026-11-27T01:04:00Z:
    ///
    ///     1. 2026-11-27T01:02:03Z  alert  backup.failed
    ///        The nightly backup failed.
    ///        Source: agent   Id: evt_01…
    ///        Attributes:
    ///          job: nightly
    ///
    /// An empty list renders as a message saying there were no events.
    public static func renderDigest(_ events: [Event], host: String) -> Rendered {
        let sorted = events.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset
        }.map(\.element)
        guard let first = sorted.first, let last = sorted.last else {
            return Rendered(subject: singleLine("[information] \(host): no events"), body: "No events.")
        }
        let level = sorted.map(\.level).max() ?? .information
        var types: [String] = []
        for event in sorted where !types.contains(event.type) { types.append(event.type) }
        var named = types.prefix(digestSubjectTypes).joined(separator: ", ")
        if types.count > digestSubjectTypes { named += ", …" }
        let noun = sorted.count == 1 ? "event" : "events"
        let subject = singleLine("[\(level.rawValue)] \(host): \(sorted.count) \(noun) (\(named))")

        var body = "\(sorted.count) \(noun) on \(host) "
        body +=
            first.time == last.time
            ? "at \(Timestamp.iso8601(first.time)):\n"
            : "from \(Timestamp.iso8601(first.time)) to \(Timestamp.iso8601(last.time)):\n"
        for (index, event) in sorted.enumerated() {
            let number = "\(index + 1). "
            let indent = String(repeating: " ", count: number.count)
            body += "\n" + number + "\(Timestamp.iso8601(event.time))  \(event.level.rawValue)  \(event.type)\n"
            if let message = event.message, !message.isEmpty {
                body += QuotedPrintable.lines(of: message).map { indent + String($0) }.joined(separator: "\n") + "\n"
            }
            body += indent + "Source: \(event.source)   Id: \(event.id)\n"
            if !event.attributes.isEmpty {
                body += indent + "Attributes:\n" + attributeLines(event.attributes, indent: indent + "  ") + "\n"
            }
        }
        body += "\nSent by Lifeboat on \(host)."
        return Rendered(subject: subject, body: body)
    }
}
