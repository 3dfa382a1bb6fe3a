import Foundation
import LifeboatCore

/// The JSON bodies a ``WebhookNotifier`` posts: one event, or a digest of a burst of events.
///
/// Compact JSON with keys in sorted order at every level, so the same notification always gives the
/// same bytes (and the same signature). Times are ISO 8601 UTC with seconds. One event:
///
/// ```json
/// {"event":{"attributes":{"job":"nightly"},"id":"evt_…","level":"alert","message":"…",
///  "source":"agent","time":"2026-11-26T17:00:00Z","type":"backup.failed"},
///  "host":"pbx1","kind":"event","level":"alert","summary":"[alert] pbx1: backup.failed: …","version":1}
/// ```
///
/// A digest has `"kind":"digest"`, `count`, `events` (oldest first), `first_time`, `last_time`, and
/// `level`, the highest level among the events. An event without a message has no `message` key.
public enum WebhookPayload {
    /// The `version` of this layout; a receiver can refuse one it does not know.
    public static let version = 1

    /// The body for one event from `host` (the agent's configured host name).
    public static func body(for event: Event, host: String) -> [UInt8] {
        encode(
            Single(
                event: EventBody(event), host: host, kind: "event", level: event.level.rawValue,
                summary: summary(of: event, host: host), version: version))
    }

    /// The body for a digest of `events` from `host`, oldest first.
    public static func body(digest events: [Event], host: String) -> [UInt8] {
        let ordered = events.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        return encode(
            Digest(
                count: ordered.count, events: ordered.map(EventBody.init),
                firstTime: ordered.first.map { Timestamp.iso8601($0.time) },
                host: host, kind: "digest", lastTime: ordered.last.map { Timestamp.iso8601($0.time) },
                level: (ordered.map(\.level).max() ?? .information).rawValue,
                summary: summary(of: ordered, host: host), version: version))
    }

    /// One line for people: `[alert] pbx1: backup.failed: the upload to s3 timed out`, or, without a
    /// message, the attributes: `[alert] pbx1: backup.failed (job=nightly, store=s3)`.
    public static func summary(of event: Event, host: String) -> String {
        var text = "[\(event.level.rawValue)] \(host): \(event.type)"
        if let message = event.message, !message.isEmpty {
            text += ": " + message
        } else if !event.attributes.isEmpty {
            text +=
                " ("
                + event.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ", ") + ")"
        }
        return oneLine(text)
    }

    /// One line for a digest: `[alert] pbx1: 3 events (2 backup.failed, 1 upload.failed)`; the
    /// event's own summary when there is one event.
    public static func summary(of events: [Event], host: String) -> String {
        if events.count == 1 { return summary(of: events[0], host: host) }
        let level = events.map(\.level).max() ?? .information
        var counts: [String: Int] = [:]
        for event in events { counts[event.type, default: 0] += 1 }
        let parts = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.value) \($0.key)" }
        let detail = parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
        return oneLine("[\(level.rawValue)] \(host): \(events.count) events\(detail)")
    }

    /// Line breaks and other control characters become spaces.
    private static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }

    private static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        // No key strategy: it would rewrite the attribute names too (dictionary keys go through it).
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            // Only strings, numbers and string dictionaries are encoded: this cannot fail.
            preconditionFailure("a webhook body could not be encoded: \(error)")
        }
    }

    private struct EventBody: Encodable {
        var id: String
        var type: String
        var level: String
        var time: String
        var source: String
        var attributes: [String: String]
        var message: String?

        init(_ event: Event) {
            id = event.id
            type = event.type
            level = event.level.rawValue
            time = Timestamp.iso8601(event.time)
            source = event.source
            attributes = event.attributes
            message = event.message
        }
    }

    private struct Single: Encodable {
        var event: EventBody
        var host: String
        var kind: String
        var level: String
        var summary: String
        var version: Int
    }

    private struct Digest: Encodable {
        var count: Int
        var events: [EventBody]
        var firstTime: String?
        var host: String
        var kind: String
        var lastTime: String?
        var level: String
        var summary: String
        var version: Int

        enum CodingKeys: String, CodingKey {
            case count, events, host, kind, level, summary, version
            case firstTime = "first_time"
            case lastTime = "last_time"
        }
    }
}
