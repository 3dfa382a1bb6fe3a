/// One of the five fields of a cron expression, in the order they are written.
public enum CronField: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case minute = 1
    case hour
    case dayOfMonth
    case month
    case dayOfWeek

    /// The 1-based position of the field in the expression.
    public var position: Int { rawValue }

    /// The field's name as used in messages: `minute`, `hour`, `day-of-month`, `month`, `day-of-week`.
    public var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    public var description: String { name }

    /// The values a field accepts as written; day-of-week accepts 7 as a second Sunday.
    public var bounds: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// Three-letter names accepted in place of numbers (lower case), with their values.
    var names: [String: Int] {
        switch self {
        case .month:
            [
                "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
                "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
            ]
        case .dayOfWeek:
            ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]
        case .minute, .hour, .dayOfMonth:
            [:]
        }
    }

    /// How a value of this field is described when the text is neither a number nor a known name.
    var expectedValue: String {
        switch self {
        case .month: "a number or a month name (jan-dec)"
        case .dayOfWeek: "a number or a day name (sun-sat)"
        case .minute, .hour, .dayOfMonth: "a number"
        }
    }
}
