import Foundation
import Testing

@testable import LifeboatSchedule

@Suite struct CronScheduleTests {
    // 2026-04-01 is a Wednesday; April's Fridays are the 3rd, 10th, 17th and 24th; 13 April is a Monday.

    @Test func dayOfMonthOrDayOfWeekWhenBothAreRestricted() throws {
        #expect(
            try fires("0 0 13 * fri", after: "2026-04-01T00:00:00Z", count: 6) == [
                "2026-04-03T00:00:00+00:00", "2026-04-10T00:00:00+00:00", "2026-04-13T00:00:00+00:00",
                "2026-04-17T00:00:00+00:00", "2026-04-24T00:00:00+00:00", "2026-05-01T00:00:00+00:00",
            ])
        // Written as numbers, or with a range that covers the whole month, it is still a union.
        #expect(
            try fires("0 0 13 * 5", after: "2026-04-01T00:00:00Z", count: 3) == [
                "2026-04-03T00:00:00+00:00", "2026-04-10T00:00:00+00:00", "2026-04-13T00:00:00+00:00",
            ])
        #expect(
            try fires("0 0 1-31 * fri", after: "2026-04-01T00:00:00Z", count: 2) == [
                "2026-04-02T00:00:00+00:00", "2026-04-03T00:00:00+00:00",
            ])
    }

    @Test func onlyTheRestrictedDayFieldCounts() throws {
        #expect(
            try fires("0 0 13 * *", after: "2026-04-01T00:00:00Z", count: 3) == [
                "2026-04-13T00:00:00+00:00", "2026-05-13T00:00:00+00:00", "2026-06-13T00:00:00+00:00",
            ])
        #expect(
            try fires("0 0 * * fri", after: "2026-04-01T00:00:00Z", count: 5) == [
                "2026-04-03T00:00:00+00:00", "2026-04-10T00:00:00+00:00", "2026-04-17T00:00:00+00:00",
                "2026-04-24T00:00:00+00:00", "2026-05-01T00:00:00+00:00",
            ])
        // A day-of-month starting with `*` counts as unrestricted, so the fields intersect:
        // odd days that are Fridays.
        #expect(
            try fires("0 0 */2 * fri", after: "2026-04-01T00:00:00Z", count: 3) == [
                "2026-04-03T00:00:00+00:00", "2026-04-17T00:00:00+00:00", "2026-05-01T00:00:00+00:00",
            ])
    }

    @Test func sundayAsZeroSevenOrName() throws {
        // 2026-04-05 is a Sunday.
        let expected = ["2026-04-05T00:00:00+00:00", "2026-04-12T00:00:00+00:00"]
        for text in ["0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "0 0 * * SUN", "@weekly"] {
            #expect(try fires(text, after: "2026-04-01T00:00:00Z", count: 2) == expected, "\(text)")
        }
        #expect(
            try fires("0 0 * * 5-7", after: "2026-04-01T00:00:00Z", count: 4) == [
                "2026-04-03T00:00:00+00:00", "2026-04-04T00:00:00+00:00", "2026-04-05T00:00:00+00:00",
                "2026-04-10T00:00:00+00:00",
            ])
    }

    @Test func leapDays() throws {
        #expect(
            try fires("0 0 29 2 *", after: "2026-01-01T00:00:00Z", count: 3) == [
                "2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00",
            ])
        // 2100 is not a leap year.
        #expect(try fires("0 0 29 feb *", after: "2096-03-01T00:00:00Z", count: 1) == ["2104-02-29T00:00:00+00:00"])
        // Feb 29 that is also a Sunday (`*/7` is 0 and 7): 28 years apart.
        #expect(try fires("0 0 29 2 */7", after: "2032-03-01T00:00:00Z", count: 1) == ["2060-02-29T00:00:00+00:00"])
    }

    @Test func shortMonthsAreSkipped() throws {
        #expect(
            try fires("0 0 31 * *", after: "2026-01-31T00:00:00Z", count: 6) == [
                "2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00", "2026-07-31T00:00:00+00:00",
                "2026-08-31T00:00:00+00:00", "2026-10-31T00:00:00+00:00", "2026-12-31T00:00:00+00:00",
            ])
        #expect(
            try fires("0 12 30 * *", after: "2026-01-30T12:00:00Z", count: 2) == [
                "2026-03-30T12:00:00+00:00", "2026-04-30T12:00:00+00:00",
            ])
    }

    @Test func datesThatNeverExistNeverFire() throws {
        for text in ["0 0 30 feb *", "0 0 31 4,6,9,11 *", "0 0 30,31 2 *"] {
            let schedule = try CronSchedule(parsing: text, timeZoneIdentifier: "Europe/Berlin")
            #expect(schedule.nextFire(after: try instant("2026-01-01T00:00:00Z")) == nil, "\(text)")
            #expect(schedule.fireTimes(after: try instant("2026-01-01T00:00:00Z"), count: 3).isEmpty)
        }
        // With a restricted day-of-week too the day fields are a union, so Mondays in February fire.
        #expect(try fires("0 0 30 2 mon", after: "2026-01-01T00:00:00Z", count: 1) == ["2026-02-02T00:00:00+00:00"])
    }

    @Test func stepsAndRanges() throws {
        #expect(
            try fires("*/15 * * * *", after: "2026-04-01T10:00:00Z", count: 5) == [
                "2026-04-01T10:15:00+00:00", "2026-04-01T10:30:00+00:00", "2026-04-01T10:45:00+00:00",
                "2026-04-01T11:00:00+00:00", "2026-04-01T11:15:00+00:00",
            ])
        #expect(
            try fires("1-30/10 * * * *", after: "2026-04-01T10:00:00Z", count: 4) == [
                "2026-04-01T10:01:00+00:00", "2026-04-01T10:11:00+00:00", "2026-04-01T10:21:00+00:00",
                "2026-04-01T11:01:00+00:00",
            ])
        #expect(
            try fires("50/5 * * * *", after: "2026-04-01T10:00:00Z", count: 3) == [
                "2026-04-01T10:50:00+00:00", "2026-04-01T10:55:00+00:00", "2026-04-01T11:50:00+00:00",
            ])
        #expect(
            try fires("0 9-17/4 * * mon-fri", after: "2026-04-03T12:00:00Z", count: 4) == [
                "2026-04-03T13:00:00+00:00", "2026-04-03T17:00:00+00:00",  // Friday
                "2026-04-06T09:00:00+00:00", "2026-04-06T13:00:00+00:00",  // Monday
            ])
        #expect(
            try fires("0 0 1 jan-dec/6 *", after: "2026-02-01T00:00:00Z", count: 2) == [
                "2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00",
            ])
    }

    @Test func macrosFire() throws {
        #expect(
            try fires("@hourly", after: "2026-04-01T10:30:00Z", count: 2) == [
                "2026-04-01T11:00:00+00:00", "2026-04-01T12:00:00+00:00",
            ])
        #expect(try fires("@daily", after: "2026-04-01T10:30:00Z", count: 1) == ["2026-04-02T00:00:00+00:00"])
        #expect(try fires("@midnight", after: "2026-04-01T10:30:00Z", count: 1) == ["2026-04-02T00:00:00+00:00"])
        #expect(try fires("@monthly", after: "2026-04-01T10:30:00Z", count: 1) == ["2026-05-01T00:00:00+00:00"])
        #expect(try fires("@yearly", after: "2026-04-01T10:30:00Z", count: 1) == ["2027-01-01T00:00:00+00:00"])
        #expect(try fires("@annually", after: "2026-04-01T10:30:00Z", count: 1) == ["2027-01-01T00:00:00+00:00"])
    }

    @Test func strictlyAfterTheGivenInstant() throws {
        #expect(try fires("30 2 * * *", after: "2026-04-01T02:30:00Z", count: 1) == ["2026-04-02T02:30:00+00:00"])
        #expect(try fires("30 2 * * *", after: "2026-04-01T02:29:59.999Z", count: 1) == ["2026-04-01T02:30:00+00:00"])
        #expect(try fires("30 2 * * *", after: "2026-04-01T02:30:00.5Z", count: 1) == ["2026-04-02T02:30:00+00:00"])
        #expect(
            try fires("* * * * *", after: "2026-12-31T23:59:30Z", count: 2) == [
                "2027-01-01T00:00:00+00:00", "2027-01-01T00:01:00+00:00",
            ])
    }

    @Test func zonesWithoutDaylightSaving() throws {
        #expect(
            try fires("30 2 * * *", in: "Asia/Kolkata", after: "2026-04-01T00:00:00Z", count: 2) == [
                "2026-04-02T02:30:00+05:30", "2026-04-03T02:30:00+05:30",
            ])
    }

    @Test func unknownTimeZonesAreRefused() {
        #expect {
            try CronSchedule(parsing: "0 0 * * *", timeZoneIdentifier: "Europe/Berlln")
        } throws: { error in
            (error as? CronError)?.code == .unknownTimeZone
                && (error as? CronError)?.description
                    == "time zone \"Europe/Berlln\": not a known IANA time zone identifier"
        }
        #expect(throws: CronError.self) { try CronSchedule(parsing: "0 0 * * *", timeZoneIdentifier: "") }
        // The expression is checked first.
        #expect {
            try CronSchedule(parsing: "0 25 * * *", timeZoneIdentifier: "Nowhere/Special")
        } throws: { error in
            (error as? CronError)?.field == .hour
        }
    }

    @Test func missedFireIsTheLatestInTheInterval() throws {
        // Down from 01:00 on the 1st to 09:10 on the 4th: three nightly runs missed, one catch-up.
        #expect(
            try missed("30 2 * * *", since: "2026-04-01T01:00:00Z", until: "2026-04-04T09:10:00Z")
                == "2026-04-04T02:30:00+00:00")
        // The interval is (since, until]: a run at `since` was already done, one at `until` is due.
        #expect(try missed("30 2 * * *", since: "2026-04-04T02:30:00Z", until: "2026-04-04T09:10:00Z") == nil)
        #expect(
            try missed("30 2 * * *", since: "2026-04-04T02:00:00Z", until: "2026-04-04T02:30:00Z")
                == "2026-04-04T02:30:00+00:00")
        #expect(try missed("30 2 * * *", since: "2026-04-04T09:00:00Z", until: "2026-04-04T08:00:00Z") == nil)
        // Years of downtime and a job that fires every minute: still the latest one, found directly.
        #expect(
            try missed("* * * * *", since: "2016-01-01T00:00:00Z", until: "2026-04-04T09:10:30Z")
                == "2026-04-04T09:10:00+00:00")
        #expect(
            try missed("0 0 29 2 *", since: "2001-01-01T00:00:00Z", until: "2026-04-04T09:10:30Z")
                == "2024-02-29T00:00:00+00:00")
        #expect(try missed("0 0 30 2 *", since: "2001-01-01T00:00:00Z", until: "2026-04-04T09:10:30Z") == nil)
    }

    @Test func searchesJumpAcrossFieldsInsteadOfMinutes() throws {
        let berlin = try CronSchedule(parsing: "0 0 29 2 */7", timeZoneIdentifier: "Europe/Berlin")
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            var cursor = try instant("2000-01-01T00:00:00Z")
            for _ in 0..<20 {
                // Each search crosses a decade or more of daylight-saving transitions.
                cursor = try #require(berlin.nextFire(after: cursor))
            }
        }
        // Minute by minute this would be tens of millions of steps per search.
        #expect(elapsed < .seconds(5))
    }

    @Test func fireTimesCount() throws {
        let schedule = try CronSchedule(parsing: "0 * * * *", timeZoneIdentifier: "Europe/Berlin")
        let start = try instant("2026-04-01T00:00:00Z")
        #expect(schedule.fireTimes(after: start, count: 0).isEmpty)
        #expect(schedule.fireTimes(after: start, count: -1).isEmpty)
        #expect(schedule.fireTimes(after: start, count: 48).count == 48)
        #expect(schedule.description == "0 * * * * (Europe/Berlin)")
    }

    @Test func agreesWithMinuteByMinuteMatchingInUTC() throws {
        // Without offsets changing, a fire time is exactly a matching minute (checked with Calendar).
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let start = try instant("2027-12-25T00:00:00Z")
        for text in ["0 0 13 * fri", "*/7 3-5 * * *", "15 10 1,15 * mon", "0 12 * jan,feb sat,sun", "59 23 31 12 *"] {
            let expression = try CronExpression(parsing: text)
            let schedule = CronSchedule(expression: expression, timeZone: utc.timeZone)
            var expected: [Date] = []
            for minute in 1...(60 * 24 * 40) {
                let date = start.addingTimeInterval(Double(minute * 60))
                let c = utc.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: date)
                let dayOfMonth = expression.daysOfMonth.contains(c.day!)
                let dayOfWeek = expression.daysOfWeek.contains(c.weekday! - 1)
                let day =
                    expression.dayOfMonthIsWildcard || expression.dayOfWeekIsWildcard
                    ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
                if day && expression.months.contains(c.month!) && expression.hours.contains(c.hour!)
                    && expression.minutes.contains(c.minute!)
                {
                    expected.append(date)
                }
            }
            let end = start.addingTimeInterval(Double(60 * 24 * 40 * 60))
            let found = schedule.fireTimes(after: start, count: expected.count + 1).filter { $0 <= end }
            #expect(found == expected, "\(text)")
            #expect(!expected.isEmpty)
        }
    }

    @Test func dayFieldsAgreeWithCalendarOverFourCenturies() throws {
        // The civil-date arithmetic behind the search, against Foundation's calendar (which is Julian
        // before 1582, so start in 1700).
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        for days in stride(from: -98_000, through: 150_000, by: 97) {
            let date = Date(timeIntervalSince1970: Double(days) * 86_400)
            let c = utc.dateComponents([.year, .month, .day, .weekday], from: date)
            let civil = CivilTime.date(days: days)
            #expect(civil.year == c.year && civil.month == c.month && civil.day == c.day)
            #expect(CivilTime.days(year: civil.year, month: civil.month, day: civil.day) == days)
            #expect(CivilTime.weekday(days: days) == c.weekday! - 1)
        }
    }
}
