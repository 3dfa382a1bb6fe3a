import Foundation
import Testing

@testable import LifeboatSchedule

/// Compares the schedule's search with a minute-by-minute simulation of cronie around zone changes.
///
/// The simulation reads the wall clock with Foundation's `Calendar` once a minute, as the daemon of
/// Vixie cron does: elapsed-time jobs run when the minute read matches; fixed-time jobs run when the
/// minute read is new (later than any read before) and matches, or when the clock jumped forward
/// over a matching minute.
@Suite struct CronScheduleSimulationTests {
    static let expressions = [
        "30 2 * * *", "0 2 * * *", "45 1 * * *", "15 2 * * *", "0 3 * * *", "0,30 1-3 * * *", "0-59 2 * * *",
        "0 0 * * *", "*/15 * * * *", "0 * * * *", "* 2 * * *", "30 */2 * * *", "59 1 * * *",
    ]

    /// Zone changes: each zone, an instant a day before a change, and how many days to simulate.
    static let changes: [(zone: String, start: String)] = [
        ("Europe/Berlin", "2026-03-28T00:00:00Z"), ("Europe/Berlin", "2026-10-24T00:00:00Z"),
        ("America/New_York", "2026-03-07T06:00:00Z"), ("America/New_York", "2026-10-31T06:00:00Z"),
        ("Australia/Lord_Howe", "2026-04-03T15:00:00Z"), ("Australia/Lord_Howe", "2026-10-02T15:00:00Z"),
        ("America/Santiago", "2026-04-04T00:00:00Z"), ("America/Santiago", "2026-09-05T00:00:00Z"),
        ("Pacific/Apia", "2011-12-29T00:00:00Z"), ("Europe/Moscow", "2014-10-25T00:00:00Z"),
    ]

    func simulate(_ expression: CronExpression, in zone: TimeZone, from start: Date, minutes: Int) -> [Date] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        /// The wall-clock reading as minutes since 1970 "as if UTC".
        func reading(_ date: Date) -> Int {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
            let asUTC = utc.date(
                from: DateComponents(year: c.year, month: c.month, day: c.day, hour: c.hour, minute: c.minute))!
            return Int(asUTC.timeIntervalSince1970) / 60
        }
        var fires: [Date] = []
        var latest = reading(start)
        for step in 1...minutes {
            let date = start.addingTimeInterval(Double(step * 60))
            let now = reading(date)
            if expression.followsElapsedTime {
                if expression.matches(localMinute: now) { fires.append(date) }
            } else if now > latest {
                if (latest + 1...now).contains(where: expression.matches(localMinute:)) { fires.append(date) }
            }
            latest = max(latest, now)
        }
        return fires
    }

    @Test(arguments: changes.indices)
    func agreesWithSimulation(change: Int) throws {
        let (zoneName, startText) = Self.changes[change]
        let zone = try #require(TimeZone(identifier: zoneName))
        let start = try instant(startText)
        let minutes = 3 * 24 * 60
        let end = start.addingTimeInterval(Double(minutes * 60))
        for text in Self.expressions {
            let expression = try CronExpression(parsing: text)
            let schedule = CronSchedule(expression: expression, timeZone: zone)
            let expected = simulate(expression, in: zone, from: start, minutes: minutes)
            #expect(expected.count >= 2, "\(text) in \(zoneName)")
            let found = schedule.fireTimes(after: start, count: expected.count + 1).filter { $0 <= end }
            #expect(
                found.map { ScheduleText.iso8601($0, in: zone) } == expected.map { ScheduleText.iso8601($0, in: zone) },
                "\(text) in \(zoneName)")

            // The latest run in random intervals is the last simulated fire in them.
            var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(change + 1)
            for _ in 0..<25 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let a = Int(seed >> 33) % minutes
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let b = Int(seed >> 33) % minutes
                let since = start.addingTimeInterval(Double(min(a, b) * 60 + 30))
                let until = start.addingTimeInterval(Double(max(a, b) * 60))
                let latest = expected.last { $0 > since && $0 <= until }
                #expect(
                    schedule.missedFire(since: since, until: until) == latest,
                    "\(text) in \(zoneName) between \(since) and \(until)")
            }
        }
    }
}
