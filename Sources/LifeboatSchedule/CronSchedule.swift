import Foundation

/// A cron expression evaluated in an IANA time zone: next fire times, and the run missed while down.
///
/// Daylight-saving changes follow Vixie cron (cronie):
/// - A job that follows elapsed time (minute or hour field starts with `*`, see
///   `CronExpression.followsElapsedTime`) fires at every matching wall-clock minute as it happens:
///   in both passes of a repeated hour, and not at all for minutes that a forward jump skips.
/// - Every other job is fixed-time. When its wall-clock time is skipped it fires once at the first
///   instant after the gap (Berlin's `30 2 * * *` on 2026-03-29 fires at 03:00 CEST, however many
///   of its times the gap swallowed). When its time repeats it fires once, in the first pass.
///
/// The same rules hold for every offset change the zone database knows of, whatever its size
/// (Australia/Lord_Howe moves by 30 minutes).
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public let expression: CronExpression
    public let timeZone: TimeZone

    /// How far ahead `nextFire(after:)` looks before concluding that nothing matches. Long enough for
    /// a date such as 29 February that must also fall on a given weekday.
    public static let searchHorizon: TimeInterval = 50 * 366 * 86_400

    public init(expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.timeZone = timeZone
    }

    /// A schedule in the zone with the given IANA identifier (`Europe/Berlin`, `UTC`).
    public init(expression: CronExpression, timeZoneIdentifier: String) throws(CronError) {
        self.init(expression: expression, timeZone: try Self.timeZone(identifier: timeZoneIdentifier))
    }

    /// Parses the expression and looks up the zone; the error names whichever is wrong.
    public init(parsing expression: String, timeZoneIdentifier: String) throws(CronError) {
        try self.init(expression: CronExpression(parsing: expression), timeZoneIdentifier: timeZoneIdentifier)
    }

    /// Looks up an IANA time zone, or throws `CronError.Code.unknownTimeZone`.
    public static func timeZone(identifier: String) throws(CronError) -> TimeZone {
        guard !identifier.isEmpty, let zone = TimeZone(identifier: identifier) else {
            throw CronError(
                code: .unknownTimeZone, input: identifier, reason: "not a known IANA time zone identifier")
        }
        return zone
    }

    public var description: String { "\(expression) (\(timeZone.identifier))" }

    /// The first fire time strictly after `date`, or nil when nothing matches within `searchHorizon`.
    public func nextFire(after date: Date) -> Date? {
        guard expression.canEverMatch else { return nil }
        let after = Self.wholeSeconds(date)
        let limit = after + Int(Self.searchHorizon)
        // Start two days early so that the wall-clock times shown before `after` are known: a fixed-time
        // job must not fire again in the second pass of a repeated hour.
        var shown: Int?
        for segment in segments.segments(from: after - 2 * CivilTime.secondsPerDay, limit: limit + 1) {
            if let fire = fire(in: segment, shownBefore: shown, after: after, through: limit, latest: false) {
                return Self.date(fire)
            }
            shown = max(shown ?? segment.localEnd, segment.localEnd)
        }
        return nil
    }

    /// The first `count` fire times strictly after `date`, in order (fewer if the search runs out).
    public func fireTimes(after date: Date, count: Int) -> [Date] {
        var result: [Date] = []
        var cursor = date
        while result.count < count, let next = nextFire(after: cursor) {
            result.append(next)
            cursor = next
        }
        return result
    }

    /// The latest fire time in `(lastRun, now]`, or nil if the schedule did not fire in between.
    ///
    /// A daemon that was down runs a job once at start-up when this is non-nil, however many runs
    /// were missed. Only the last `searchHorizon` before `now` is looked at.
    public func missedFire(since lastRun: Date, until now: Date) -> Date? {
        let after = Self.wholeSeconds(lastRun)
        let through = Self.wholeSeconds(now)
        guard through > after, expression.canEverMatch else { return nil }
        let from = max(after, through - Int(Self.searchHorizon))

        // Walk forward to learn which wall-clock times each segment shows first, then search backward.
        var walked: [(segment: ZoneSegment, shownBefore: Int?)] = []
        var shown: Int?
        for segment in segments.segments(from: from - 2 * CivilTime.secondsPerDay, limit: through + 1) {
            walked.append((segment, shown))
            shown = max(shown ?? segment.localEnd, segment.localEnd)
        }
        for (segment, shownBefore) in walked.reversed() {
            if let fire = fire(in: segment, shownBefore: shownBefore, after: after, through: through, latest: true) {
                return Self.date(fire)
            }
        }
        return nil
    }

    // MARK: - Search

    private var segments: ZoneSegments { ZoneSegments(timeZone: timeZone) }

    /// The earliest (or latest) fire instant in `segment` within `(after, through]`.
    ///
    /// `shownBefore` is the end of the wall-clock times (local seconds) shown by earlier segments, or
    /// nil if unknown. For a fixed-time job, local times below it were already shown (fall back: not
    /// again), and local times from it up to the segment's start were skipped (spring forward: fire
    /// once at the segment's first instant if any of them matches).
    private func fire(in segment: ZoneSegment, shownBefore: Int?, after: Int, through: Int, latest: Bool) -> Int? {
        var lowerLocal = segment.localStart
        var gapFire: Int?
        if !expression.followsElapsedTime, let shownBefore {
            if segment.localStart > shownBefore, segment.start > after, segment.start <= through,
                expression.firstMatch(
                    from: CivilTime.ceilDivide(shownBefore, 60), below: CivilTime.ceilDivide(segment.localStart, 60))
                    != nil
            {
                gapFire = segment.start
            }
            lowerLocal = max(lowerLocal, shownBefore)
        }
        let offset = segment.offset
        // Local minute m is the instant m * 60 - offset; keep it inside the segment and the interval.
        let first = max(CivilTime.ceilDivide(lowerLocal, 60), CivilTime.floorDivide(after + offset, 60) + 1)
        let last = min(CivilTime.ceilDivide(segment.localEnd, 60) - 1, CivilTime.floorDivide(through + offset, 60))
        if latest {
            if let minute = expression.lastMatch(from: first, through: last) { return minute * 60 - offset }
            return gapFire
        }
        if let gapFire { return gapFire }
        if let minute = expression.firstMatch(from: first, below: last + 1) { return minute * 60 - offset }
        return nil
    }

    static func wholeSeconds(_ date: Date) -> Int {
        // Clamped to about ±30,000 years so that arithmetic on the result cannot overflow.
        Int(min(max(date.timeIntervalSince1970, -1e12), 1e12).rounded(.down))
    }

    static func date(_ seconds: Int) -> Date {
        Date(timeIntervalSince1970: Double(seconds))
    }
}
