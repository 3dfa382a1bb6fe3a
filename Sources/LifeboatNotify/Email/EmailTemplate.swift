import Foundation
import LifeboatCore

/// The subject and body of the email for one event, written with placeholders.
///
/// Placeholders are `{{name}}` (spaces inside the braces are allowed):
///
/// | placeholder | value |
/// | --- | --- |
/// | `{{type}}` | the event type, `backup.failed` |
/// | `{{level}}` | `information`, `warning` or `alert` |
/// | `{{host}}` | the host the agent runs on (the configuration's `host`) |
/// | `{{time}}` | the event's time, ISO 8601 UTC: `2026-11-27T01:02:03Z` |
/// | `{{message}}` | the event's sentence; empty when it has none |
/// | `{{id}}` | the event id, `evt_…` |
/// | `{{source}}` | where the event came from: `agent`, `cli`, `api`, … |
/// | `{{attributes}}` | every attribute, one `name: value` line each, sorted by name; `(none)` |
/// | `{{attr.NAME}}` | the attribute NAME; empty when the event has no such attribute |
///
/// Any other `{{…}}` is left in the text as it is, so that a misspelt placeholder shows in the
/// email instead of silently vanishing; ``unknownPlaceholders`` lists them, for the configuration
/// check to refuse. In the subject, every line break or other control character coming from a
/// value or from the template becomes a space, so a value can never add a header (``EmailMessage``
/// would refuse the subject otherwise).
public struct EmailTemplate: Sendable, Hashable {
    /// The subject template (a single line once rendered).
    public var subject: String
    /// The body template.
    public var body: String

    public static let defaultSubject = "[{{level}}] {{host}}: {{type}}"
    public static let defaultBody = """
        {{message}}

        Event:   {{type}}
        Level:   {{level}}
        Host:    {{host}}
        Time:    {{time}}
        Source:  {{source}}
        Id:      {{id}}

        Attributes:
        {{attributes}}

        Sent by Lifeboat on {{host}}.
        """

    /// The built-in template: ``defaultSubject`` and ``defaultBody``.
    public static let standard = EmailTemplate()

    public init(subject: String = EmailTemplate.defaultSubject, body: String = EmailTemplate.defaultBody) {
        self.subject = subject
        self.body = body
    }

    /// A rendered subject and body, ready for ``EmailMessage``.
    public struct Rendered: Sendable, Hashable {
        public var subject: String
        public var body: String

        public init(subject: String, body: String) {
            self.subject = subject
            self.body = body
        }
    }

    /// The names every template understands (besides `attr.NAME`).
    public static let placeholderNames: Set<String> = [
        "type", "level", "host", "time", "message", "id", "source", "attributes",
    ]

    /// Renders the template for `event` on `host`. The body loses leading and trailing blank lines
    /// (an event without a message starts with its details).
    public func render(_ event: Event, host: String) -> Rendered {
        let subject = Self.singleLine(Self.substitute(subject) { Self.value(of: $0, event: event, host: host) })
        let body = Self.substitute(body) { Self.value(of: $0, event: event, host: host) }
        return Rendered(subject: subject, body: Self.trimmingBlankLines(body))
    }

    /// The placeholders in the subject and body that no event can fill (a typo such as `{{lvel}}`),
    /// in order of appearance, without duplicates.
    public var unknownPlaceholders: [String] {
        var seen: [String] = []
        for text in [subject, body] {
            _ = Self.substitute(text) { name in
                if !Self.placeholderNames.contains(name), !Self.isAttributePlaceholder(name), !seen.contains(name) {
                    seen.append(name)
                }
                return nil
            }
        }
        return seen
    }

    // MARK: Rendering

    /// The value of the placeholder `name`, or nil for one this template does not know.
    static func value(of name: String, event: Event, host: String) -> String? {
        switch name {
        case "type": return event.type
        case "level": return event.level.rawValue
        case "host": return host
        case "time": return Timestamp.iso8601(event.time)
        case "message": return event.message ?? ""
        case "id": return event.id
        case "source": return event.source
        case "attributes": return attributeLines(event.attributes, indent: "  ")
        default:
            guard isAttributePlaceholder(name) else { return nil }
            return event.attributes[String(name.dropFirst("attr.".count))] ?? ""
        }
    }

    static func isAttributePlaceholder(_ name: String) -> Bool {
        name.hasPrefix("attr.") && name.count > "attr.".count
    }

    /// `name: value` lines sorted by name, each after `indent`; a value's own line breaks continue
    /// under it. `(none)` for no attributes.
    static func attributeLines(_ attributes: [String: String], indent: String) -> String {
        guard !attributes.isEmpty else { return indent + "(none)" }
        return attributes.sorted { $0.key < $1.key }.map { key, value in
            let lines = QuotedPrintable.lines(of: value).map { String($0) }
            let continuation = "\n" + indent + String(repeating: " ", count: key.count + 2)
            return indent + key + ": " + lines.joined(separator: continuation)
        }.joined(separator: "\n")
    }

    /// `template` with each `{{name}}` replaced by `value(name)`; a placeholder whose value is nil,
    /// and an unclosed `{{`, stay as written.
    static func substitute(_ template: String, _ value: (String) -> String?) -> String {
        var output = ""
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            output += value(name) ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return output + rest
    }

    /// `text` on one line: each CRLF, CR, LF or other control character becomes a space, and
    /// leading and trailing spaces are dropped.
    static func singleLine(_ text: String) -> String {
        var line = ""
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            // "\r\n" becomes one space, not two
            if !(scalar == "\n" && previousWasCarriageReturn) {
                line.unicodeScalars.append(scalar.properties.generalCategory == .control ? " " : scalar)
            }
            previousWasCarriageReturn = scalar == "\r"
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// `text` without blank lines at its start and end.
    static func trimmingBlankLines(_ text: String) -> String {
        var lines = QuotedPrintable.lines(of: text).map { String($0) }
        while let first = lines.first, first.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeFirst() }
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}
