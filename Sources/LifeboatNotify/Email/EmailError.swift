/// A message that cannot be built as given: an invalid address, a header value with a line break or
/// another control character in it, a malformed Message-ID.
///
/// It is thrown before anything is sent, names the field and the problem, and quotes the offending
/// value only with its control characters made visible (`\r`, `\n`, `\u{7}`), so that it cannot
/// break a log line either.
public struct EmailError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field that is wrong: `from`, `to`, `subject`, `message_id`, `event type`, `recipient`….
    public var field: String
    /// What is wrong with it, and what would be right.
    public var message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "email \(field): \(message)" }

    /// `value` in double quotes with every control character written as a Swift escape.
    static func quoted(_ value: String) -> String {
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\r": text += "\\r"
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            default:
                if scalar.properties.generalCategory == .control {
                    text += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text + "\""
    }

    /// Throws when `value` holds a control character (CR, LF, tab, NUL, DEL, C1 controls…): in a
    /// header it could end the field and start another one (header injection).
    static func rejectControlCharacters(in value: String, field: String) throws(EmailError) {
        guard let bad = value.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) else {
            return
        }
        let what: String
        switch bad {
        case "\r", "\n": what = "a line break"
        default: what = "a control character (U+\(String(bad.value, radix: 16, uppercase: true)))"
        }
        throw EmailError(
            field: field,
            "\(quoted(value)) contains \(what); header values must be a single line of text, "
                + "so that no value can add or end a header")
    }
}
