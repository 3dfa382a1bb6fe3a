import Foundation

/// When firmware may be installed: a span of the clock on some days of the week, read in one IANA
/// time zone (`firmware.window`):
///
/// ```yaml
/// window: {days: [sat, sun], start: "02:00", end: "05:00", timezone: Europe/Berlin}
/// ```
///
/// A window belongs to the day it opens on. With `end` before `start` it crosses midnight: `days:
/// [sat]`, 22:00–04:00 runs from Saturday 22:00 to Sunday 04:00 (and Sunday 01:00 is not inside a
/// window unless Saturday is listed).
///
/// A window opens the first time its day's clock reaches `start`, and closes the first time after
/// that the clock reaches `end`. Across daylight-saving changes (Berlin's dates as examples):
/// - Fall back (2026-10-25, 03:00 CEST → 02:00 CET): a window holding the repeated hour lasts an hour
///   longer (02:00–03:00 is open from 02:00 CEST to 03:00 CET, two hours); a `start` or an `end`
///   inside the repeated hour counts in its first pass.
/// - Spring forward (2026-03-29, 02:00 CET → 03:00 CEST): a window loses the skipped hour (01:00–04:00
///   is open from 01:00 CET to 04:00 CEST, two hours), and a skipped `start` opens right after the
///   jump (02:30–04:00 opens at 03:00 CEST). A window the jump skips entirely is not lost: it opens
///   right after the jump and stays open for its usual length (02:00–03:00 is open 03:00–04:00 CEST).
///
/// So `end` is never passed on the clock, except by a window that would otherwise not open at all.
public struct MaintenanceWindow: Sendable, Hashable, CustomStringConvertible {
    /// A day of the week; the raw value is the ISO 8601 number (Monday 1 … Sunday 7).
    public enum Day: Int, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
        case mon = 1
        case tue, wed, thu, fri, sat, sun

        public static func < (lhs: Day, rhs: Day) -> Bool { lhs.rawValue < rhs.rawValue }

        /// `mon` … `sun`, as the configuration spells it.
        public var description: String {
            switch self {
            case .mon: "mon"
            case .tue: "tue"
            case .wed: "wed"
            case .thu: "thu"
            case .fri: "fri"
            case .sat: "sat"
            case .sun: "sun"
            }
        }
    }

    /// The days a window opens on (`days`).
    public let days: Set<Day>
    /// When it opens, in minutes after midnight (`start`, "HH:MM").
    public let start: Int
    /// When it closes, in minutes after midnight (`end`, "HH:MM"); at or before `start`: the next day.
    public let end: Int
    /// The zone whose clock `start` and `end` are read on (`timezone`).
    public let timeZone: TimeZone

    /// A window from parsed values (minutes after midnight); `init(days:start:end:timezone:)` parses
    /// the configuration's text.
    ///
    /// Throws `FirmwareError` with code `.invalidWindow` when `days` is empty, a minute is outside
    /// 0..<1440, or `start` equals `end`.
    public init(days: Set<Day>, startMinute start: Int, endMinute end: Int, timeZone: TimeZone) throws {
        guard !days.isEmpty else {
            throw FirmwareError(
                .invalidWindow, "firmware.window.days is empty: list the days a window opens on, e.g. [sat, sun]")
        }
        for (setting, minute) in [("start", start), ("end", end)] where !(0..<Self.minutesPerDay).contains(minute) {
            throw FirmwareError(
                .invalidWindow, "firmware.window.\(setting) is minute \(minute) of the day, outside 0 to 1439")
        }
        guard start != end else {
            let time = Self.clockText(start)
            throw FirmwareError(
                .invalidWindow,
                "firmware.window.start and end are both \"\(time)\": the window would be empty (a window "
                    + "crossing midnight has an end before its start, e.g. 22:00 to 04:00)")
        }
        self.days = days
        self.start = start
        self.end = end
        self.timeZone = timeZone
    }

    /// Whether the window closes on the day after it opens.
    public var crossesMidnight: Bool { end < start }

    /// How long a window is open on a day without a clock change, in seconds.
    public var nominalLength: Int { ((end - start + Self.minutesPerDay) % Self.minutesPerDay) * 60 }

    /// `sat,sun 02:00-05:00 Europe/Berlin`.
    public var description: String {
        let list = days.sorted().map(\.description).joined(separator: ",")
        return "\(list) \(Self.clockText(start))-\(Self.clockText(end)) \(timeZone.identifier)"
    }

    // MARK: Evaluation

    /// Whether a window is open at `date` (from its opening, inclusive, to its closing, exclusive).
    public func contains(_ date: Date) -> Bool {
        occurrence(containing: date) != nil
    }

    /// The window open at `date`, from its opening to its closing; nil when none is open then.
    public func occurrence(containing date: Date) -> DateInterval? {
        let today = localDay(of: date)
        // A window opens at most a day and the length of a clock change before the day it closes on.
        for day in (today - 2)...today {
            if let window = occurrence(onDay: day), window.start <= date, date < window.end { return window }
        }
        return nil
    }

    /// When the window open at `date` closes; nil when none is open then.
    public func closing(at date: Date) -> Date? {
        occurrence(containing: date)?.end
    }

    /// The first window that opens strictly after `date` (one already open at `date` is skipped).
    public func nextOccurrence(after date: Date) -> DateInterval {
        let today = localDay(of: date)
        // Every listed day of the week comes round within a week.
        for day in (today - 1)...(today + 8) {
            if let window = occurrence(onDay: day), window.start > date { return window }
        }
        preconditionFailure("a window with at least one day opens within every week")
    }

    /// When the next window opens, strictly after `date`.
    public func nextOpening(after date: Date) -> Date {
        nextOccurrence(after: date).start
    }

    /// The window opening on `day` (days since 1970-01-01 on the local clock), if it is a listed day.
    func occurrence(onDay day: Int) -> DateInterval? {
        guard let weekday = Day(rawValue: Self.floorModulo(day + 3, 7) + 1), days.contains(weekday) else {
            return nil
        }
        let openingClock = day * Self.secondsPerDay + start * 60
        let closingClock = (crossesMidnight ? day + 1 : day) * Self.secondsPerDay + end * 60
        let opening = firstInstant(reaching: openingClock)
        var closing = firstInstant(reaching: closingClock)
        if closing <= opening {
            // The clock jumped over the whole window: it stays open for its usual length.
            closing = opening + (closingClock - openingClock)
        }
        return DateInterval(
            start: Date(timeIntervalSince1970: Double(opening)), end: Date(timeIntervalSince1970: Double(closing)))
    }

    /// The first instant (seconds since 1970) at which the clock reads `clock` (local seconds since
    /// 1970-01-01T00:00) or later: the first pass of a repeated time, the end of the jump for a
    /// skipped one. Assumes at most one clock change within a day of `clock`, as in every zone.
    func firstInstant(reaching clock: Int) -> Int {
        let before = clock - offset(at: clock - Self.secondsPerDay)
        let after = clock - offset(at: clock + Self.secondsPerDay)
        let exact = [before, after].filter { $0 + offset(at: $0) == clock }
        if let first = exact.min() { return first }
        // Skipped: the clock reads less than `clock` at `low` and more at `high`; bisect to the jump.
        var low = min(before, after)
        var high = max(before, after)
        guard low + offset(at: low) < clock, high + offset(at: high) > clock else { return high }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if middle + offset(at: middle) >= clock { high = middle } else { low = middle }
        }
        return high
    }

    private func offset(at instant: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))
    }

    /// The local day (days since 1970-01-01 on the zone's clock) of `date`.
    private func localDay(of date: Date) -> Int {
        let instant = Int(date.timeIntervalSince1970.rounded(.down))
        return Self.floorDivide(instant + offset(at: instant), Self.secondsPerDay)
    }

    static let secondsPerDay = 86_400
    static let minutesPerDay = 1_440

    /// `02:05` for minute 125.
    static func clockText(_ minute: Int) -> String {
        let hours = minute / 60
        let minutes = minute % 60
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }

    private static func floorDivide(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    private static func floorModulo(_ a: Int, _ b: Int) -> Int {
        a - floorDivide(a, b) * b
    }
}
