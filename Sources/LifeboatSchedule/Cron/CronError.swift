/// A cron expression or time zone that cannot be used, with the field and text at fault.
///
/// The description is one line a user can act on, for example
/// `cron expression "61 * * * *": minute field "61": 61 is out of range 0-59`.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem it is; grows without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case fieldCount, invalidField, unknownMacro, unknownTimeZone
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The expression does not have exactly five fields.
        public static var fieldCount: Code { Code(.fieldCount) }
        /// One field has a bad value, range, step or name; `CronError.field` says which.
        public static var invalidField: Code { Code(.invalidField) }
        /// An `@` form that is not one of the supported macros.
        public static var unknownMacro: Code { Code(.unknownMacro) }
        /// The time zone identifier is not a known IANA zone.
        public static var unknownTimeZone: Code { Code(.unknownTimeZone) }

        public var description: String {
            switch wrapped {
            case .fieldCount: "field count"
            case .invalidField: "invalid field"
            case .unknownMacro: "unknown macro"
            case .unknownTimeZone: "unknown time zone"
            }
        }
    }

    public var code: Code
    /// The expression as written (or the time zone identifier, for `.unknownTimeZone`).
    public var input: String
    /// The field at fault, when the problem is in one field.
    public var field: CronField?
    /// The text of that field as written.
    public var fieldText: String?
    /// Why the input was refused.
    public var reason: String

    public init(code: Code, input: String, field: CronField? = nil, fieldText: String? = nil, reason: String) {
        self.code = code
        self.input = input
        self.field = field
        self.fieldText = fieldText
        self.reason = reason
    }

    public var description: String {
        if code == .unknownTimeZone {
            return "time zone \"\(input)\": \(reason)"
        }
        if let field, let fieldText {
            return "cron expression \"\(input)\": \(field.name) field \"\(fieldText)\": \(reason)"
        }
        return "cron expression \"\(input)\": \(reason)"
    }
}
