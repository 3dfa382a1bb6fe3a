/// A five-field cron expression (minute hour day-of-month month day-of-week) in Vixie cron syntax.
///
/// Each field is a comma-separated list of `*`, a value, or a range `a-b`, each optionally followed
/// by a step: `*/15`, `1-30/5`, and `5/10` (meaning `5-59/10`). Months and days of the week also
/// accept three-letter English names in any case (`jan`–`dec`, `sun`–`sat`); day-of-week 0 and 7
/// are both Sunday. `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and
/// `@hourly` stand for their usual five-field forms.
///
/// When both day-of-month and day-of-week are restricted (neither starts with `*`), a day matches
/// when *either* matches, as in Vixie cron: `0 0 13 * fri` runs on the 13th and on every Friday.
///
/// Two expressions are equal when they are written the same way, ignoring runs of white space.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written, with white space between fields collapsed to one space.
    public let description: String

    let minutes: CronValueSet
    let hours: CronValueSet
    let daysOfMonth: CronValueSet
    let months: CronValueSet
    /// 0 = Sunday ... 6 = Saturday (7 has been folded into 0).
    let daysOfWeek: CronValueSet
    /// The day-of-month field starts with `*`, so only day-of-week restricts the day.
    let dayOfMonthIsWildcard: Bool
    /// The day-of-week field starts with `*`, so only day-of-month restricts the day.
    let dayOfWeekIsWildcard: Bool

    /// Whether the job follows elapsed time rather than a fixed wall-clock time across DST changes.
    ///
    /// True when the minute or hour field starts with `*` (`*`, `*/15`, `@hourly`): such a job fires
    /// at every matching wall-clock minute as it happens, so twice in a repeated hour and not at all
    /// in a skipped one. Other jobs are fixed-time: once, in the first pass, when their time repeats,
    /// and once right after the gap when it is skipped. See `CronSchedule`.
    public let followsElapsedTime: Bool

    /// The supported `@` forms and the five fields each stands for.
    public static let macros: [(name: String, expansion: String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ]

    /// Parses an expression, or throws an error naming the field at fault and why.
    public init(parsing text: String) throws(CronError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        let written = words.joined(separator: " ")
        var fields = words
        if words.count == 1, words[0].hasPrefix("@") {
            let name = words[0].lowercased()
            guard let macro = Self.macros.first(where: { $0.name == name }) else {
                let known = Self.macros.map(\.name).joined(separator: ", ")
                let reason =
                    name == "@reboot"
                    ? "@reboot is not a time schedule; expected one of \(known)"
                    : "unknown macro \"\(words[0])\"; expected one of \(known)"
                throw CronError(code: .unknownMacro, input: written, reason: reason)
            }
            fields = macro.expansion.split(separator: " ")
        }
        guard fields.count == 5 else {
            throw CronError(
                code: .fieldCount, input: written,
                reason: "expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }

        var sets: [CronValueSet] = []
        for field in CronField.allCases {
            sets.append(try Self.parseField(fields[field.position - 1], as: field, in: written))
        }
        var daysOfWeek = sets[4]
        if daysOfWeek.contains(7) {
            daysOfWeek.remove(7)
            daysOfWeek.insert(0)
        }

        self.description = written
        self.minutes = sets[0]
        self.hours = sets[1]
        self.daysOfMonth = sets[2]
        self.months = sets[3]
        self.daysOfWeek = daysOfWeek
        self.dayOfMonthIsWildcard = fields[2].hasPrefix("*")
        self.dayOfWeekIsWildcard = fields[4].hasPrefix("*")
        self.followsElapsedTime = fields[0].hasPrefix("*") || fields[1].hasPrefix("*")
    }
}
