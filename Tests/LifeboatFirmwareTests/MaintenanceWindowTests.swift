import Foundation
import LifeboatCore
import LifeboatFirmware
import Testing

/// `MaintenanceWindow` on fixed dates: parsing, midnight crossing, and Berlin's (and New York's)
/// clock changes of 2026.
@Suite struct MaintenanceWindowTests {
    /// `2026-03-29T03:00:00+02:00` → Date.
    static func at(_ text: String) throws -> Date {
        try #require(Timestamp.parseISO8601(text), "bad test date \(text)")
    }

    static func window(
        _ days: [String], _ start: String, _ end: String, _ timezone: String = "Europe/Berlin"
    ) throws -> MaintenanceWindow {
        try MaintenanceWindow(days: days, start: start, end: end, timezone: timezone)
    }

    // MARK: Parsing

    @Test func parsesTheConfigurationForm() throws {
        let window = try Self.window(["sat", "Sun", "saturday"], "02:00", "5:00")
        #expect(window.days == [.sat, .sun])
        #expect(window.start == 120)
        #expect(window.end == 300)
        #expect(window.timeZone.identifier == "Europe/Berlin")
        #expect(!window.crossesMidnight)
        #expect(window.nominalLength == 3 * 3600)
        #expect(window.description == "sat,sun 02:00-05:00 Europe/Berlin")

        let night = try Self.window(["fri"], "22:30", "04:15", "UTC")
        #expect(night.crossesMidnight)
        #expect(night.nominalLength == 5 * 3600 + 45 * 60)
    }

    @Test(arguments: [
        (["sat", "fri day"], "02:00", "05:00", "Europe/Berlin", "firmware.window.days: \"fri day\""),
        ([], "02:00", "05:00", "Europe/Berlin", "firmware.window.days is empty"),
        (["sat"], "25:00", "05:00", "Europe/Berlin", "firmware.window.start \"25:00\""),
        (["sat"], "02:60", "05:00", "Europe/Berlin", "firmware.window.start \"02:60\""),
        (["sat"], "02:00", "120", "Europe/Berlin", "firmware.window.end \"120\""),
        (["sat"], "02:00", "5 am", "Europe/Berlin", "firmware.window.end \"5 am\""),
        (["sat"], "2:0", "05:00", "Europe/Berlin", "firmware.window.start \"2:0\""),
        (["sat"], "02:00", "05:00", "Europe/Berlyn", "firmware.window.timezone \"Europe/Berlyn\""),
        (["sat"], "02:00", "05:00", "", "firmware.window.timezone \"\""),
        (["sat"], "02:00", "02:00", "UTC", "start and end are both \"02:00\""),
    ])
    func refusesBadValuesNamingThem(
        days: [String], start: String, end: String, timezone: String, expected: String
    ) throws {
        let error = try #require(throws: FirmwareError.self) {
            try MaintenanceWindow(days: days, start: start, end: end, timezone: timezone)
        }
        #expect(error.code == .invalidWindow)
        #expect(error.message.contains(expected), "\(error.message)")
    }

    // MARK: An ordinary week

    @Test func openAndClosedOnOrdinaryDays() throws {
        // Saturday 2026-11-28 and Sunday 2026-11-29, CET (+01:00).
        let window = try Self.window(["sat", "sun"], "02:00", "05:00")
        #expect(!window.contains(try Self.at("2026-11-28T01:59:59+01:00")))
        #expect(window.contains(try Self.at("2026-11-28T02:00:00+01:00")), "opening is inside")
        #expect(window.contains(try Self.at("2026-11-28T04:59:59+01:00")))
        #expect(!window.contains(try Self.at("2026-11-28T05:00:00+01:00")), "closing is outside")
        #expect(window.contains(try Self.at("2026-11-29T03:00:00+01:00")))
        #expect(!window.contains(try Self.at("2026-11-30T03:00:00+01:00")), "Monday is not listed")
        #expect(
            window.closing(at: try Self.at("2026-11-29T03:00:00+01:00")) == (try Self.at("2026-11-29T05:00:00+01:00")))
        #expect(window.closing(at: try Self.at("2026-11-30T03:00:00+01:00")) == nil)

        #expect(
            window.nextOpening(after: try Self.at("2026-11-25T12:00:00Z")) == (try Self.at("2026-11-28T02:00:00+01:00"))
        )
        #expect(
            window.nextOpening(after: try Self.at("2026-11-28T03:00:00+01:00"))
                == (try Self.at("2026-11-29T02:00:00+01:00")), "an open window is skipped: the next one")
        #expect(
            window.nextOpening(after: try Self.at("2026-11-28T02:00:00+01:00"))
                == (try Self.at("2026-11-29T02:00:00+01:00")), "strictly after")
        #expect(
            window.nextOpening(after: try Self.at("2026-11-29T06:00:00+01:00"))
                == (try Self.at("2026-12-05T02:00:00+01:00")), "next week")
        let interval = try #require(window.occurrence(containing: try Self.at("2026-11-28T04:00:00+01:00")))
        #expect(interval.duration == 3 * 3600)
    }

    @Test func theZoneDecidesTheInstant() throws {
        let berlin = try Self.window(["sat"], "02:00", "05:00", "Europe/Berlin")
        let tokyo = try Self.window(["sat"], "02:00", "05:00", "Asia/Tokyo")
        let utc = try Self.window(["sat"], "02:00", "05:00", "UTC")
        let after = try Self.at("2026-11-25T12:00:00Z")
        #expect(berlin.nextOpening(after: after) == (try Self.at("2026-11-28T01:00:00Z")))
        #expect(tokyo.nextOpening(after: after) == (try Self.at("2026-11-27T17:00:00Z")))
        #expect(utc.nextOpening(after: after) == (try Self.at("2026-11-28T02:00:00Z")))
    }

    // MARK: Midnight

    @Test func aWindowCrossingMidnightBelongsToTheDayItOpens() throws {
        let window = try Self.window(["sat"], "22:00", "04:00")
        #expect(window.contains(try Self.at("2026-11-28T22:00:00+01:00")))
        #expect(window.contains(try Self.at("2026-11-28T23:59:59+01:00")))
        #expect(window.contains(try Self.at("2026-11-29T00:00:00+01:00")), "Sunday morning is Saturday's window")
        #expect(window.contains(try Self.at("2026-11-29T03:59:59+01:00")))
        #expect(!window.contains(try Self.at("2026-11-29T04:00:00+01:00")))
        #expect(!window.contains(try Self.at("2026-11-29T22:30:00+01:00")), "Sunday evening opens no window")
        #expect(!window.contains(try Self.at("2026-11-28T01:00:00+01:00")), "that would be Friday's window")
        #expect(!window.contains(try Self.at("2026-11-27T23:00:00+01:00")))
        #expect(
            window.closing(at: try Self.at("2026-11-29T01:00:00+01:00"))
                == (try Self.at("2026-11-29T04:00:00+01:00")))
        #expect(
            window.nextOpening(after: try Self.at("2026-11-29T01:00:00+01:00"))
                == (try Self.at("2026-12-05T22:00:00+01:00")))
        #expect(
            window.nextOpening(after: try Self.at("2026-11-28T21:59:00+01:00"))
                == (try Self.at("2026-11-28T22:00:00+01:00")))
    }

    @Test func aWindowEndingAtMidnight() throws {
        let window = try Self.window(["sun"], "20:00", "00:00")
        #expect(window.crossesMidnight)
        let open = try #require(window.occurrence(containing: try Self.at("2026-11-29T23:59:00+01:00")))
        #expect(open.start == (try Self.at("2026-11-29T20:00:00+01:00")))
        #expect(open.end == (try Self.at("2026-11-30T00:00:00+01:00")))
    }

    // MARK: Daylight saving, Europe/Berlin 2026

    @Test func springForwardKeepsAWindowTheJumpSkipsEntirely() throws {
        // 2026-03-29: at 02:00 CET (01:00Z) the clock jumps to 03:00 CEST.
        let window = try Self.window(["sun"], "02:00", "03:00")
        let opening = window.nextOpening(after: try Self.at("2026-03-28T12:00:00Z"))
        #expect(opening == (try Self.at("2026-03-29T03:00:00+02:00")), "opens right after the jump")
        #expect(window.closing(at: opening) == (try Self.at("2026-03-29T04:00:00+02:00")), "for its usual hour")
        #expect(!window.contains(try Self.at("2026-03-29T01:59:59+01:00")))
        #expect(window.contains(try Self.at("2026-03-29T03:30:00+02:00")))
        #expect(!window.contains(try Self.at("2026-03-29T04:00:00+02:00")))
        // A week later it is an ordinary 02:00-03:00 CEST again.
        #expect(window.nextOpening(after: opening) == (try Self.at("2026-04-05T02:00:00+02:00")))

        let half = try Self.window(["sun"], "02:15", "02:45")
        let interval = try #require(half.occurrence(containing: try Self.at("2026-03-29T03:10:00+02:00")))
        #expect(interval.start == (try Self.at("2026-03-29T03:00:00+02:00")))
        #expect(interval.duration == 30 * 60)
    }

    @Test func springForwardShortensAWindowAroundTheJump() throws {
        let around = try Self.window(["sun"], "01:00", "04:00")
        let interval = try #require(around.occurrence(containing: try Self.at("2026-03-29T01:30:00+01:00")))
        #expect(interval.start == (try Self.at("2026-03-29T01:00:00+01:00")))
        #expect(interval.end == (try Self.at("2026-03-29T04:00:00+02:00")), "end is kept on the clock")
        #expect(interval.duration == 2 * 3600)

        let skippedStart = try Self.window(["sun"], "02:30", "04:00")
        let opening = skippedStart.nextOpening(after: try Self.at("2026-03-28T12:00:00Z"))
        #expect(opening == (try Self.at("2026-03-29T03:00:00+02:00")))
        #expect(skippedStart.closing(at: opening) == (try Self.at("2026-03-29T04:00:00+02:00")))

        let overnight = try Self.window(["sat"], "22:00", "04:00")
        let night = try #require(overnight.occurrence(containing: try Self.at("2026-03-29T01:59:00+01:00")))
        #expect(night.start == (try Self.at("2026-03-28T22:00:00+01:00")))
        #expect(night.end == (try Self.at("2026-03-29T04:00:00+02:00")))
        #expect(night.duration == 5 * 3600)

        let endSkipped = try Self.window(["sat"], "23:00", "02:30")
        let late = try #require(endSkipped.occurrence(containing: try Self.at("2026-03-29T01:30:00+01:00")))
        #expect(late.end == (try Self.at("2026-03-29T03:00:00+02:00")), "a skipped end closes at the jump")
    }

    @Test func fallBackLengthensAWindowHoldingTheRepeatedHour() throws {
        // 2026-10-25: at 03:00 CEST (01:00Z) the clock goes back to 02:00 CET; 02:00-03:00 happens twice.
        let window = try Self.window(["sun"], "02:00", "03:00")
        let interval = try #require(window.occurrence(containing: try Self.at("2026-10-25T02:30:00+02:00")))
        #expect(interval.start == (try Self.at("2026-10-25T02:00:00+02:00")), "opens in the first pass")
        #expect(interval.end == (try Self.at("2026-10-25T03:00:00+01:00")))
        #expect(interval.duration == 2 * 3600)
        #expect(window.contains(try Self.at("2026-10-25T02:30:00+01:00")), "the second pass is inside too")
        #expect(!window.contains(try Self.at("2026-10-25T03:00:00+01:00")))
        #expect(
            window.nextOpening(after: try Self.at("2026-10-25T02:30:00+01:00"))
                == (try Self.at("2026-11-01T02:00:00+01:00")), "no second opening in the repeated hour")
    }

    @Test func fallBackClosesAWindowEndingInTheRepeatedHourInTheFirstPass() throws {
        let window = try Self.window(["sun"], "01:00", "02:30")
        let interval = try #require(window.occurrence(containing: try Self.at("2026-10-25T01:30:00+02:00")))
        #expect(interval.end == (try Self.at("2026-10-25T02:30:00+02:00")))
        #expect(interval.duration == 90 * 60)
        #expect(!window.contains(try Self.at("2026-10-25T02:15:00+01:00")), "the second pass is after the end")

        let startRepeated = try Self.window(["sun"], "02:30", "04:00")
        let later = try #require(startRepeated.occurrence(containing: try Self.at("2026-10-25T03:30:00+01:00")))
        #expect(later.start == (try Self.at("2026-10-25T02:30:00+02:00")))
        #expect(later.duration == 150 * 60)
    }

    @Test func newYorkSpringsForwardOnItsOwnDate() throws {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
        let window = try Self.window(["sun"], "02:00", "03:00", "America/New_York")
        let opening = window.nextOpening(after: try Self.at("2026-03-07T12:00:00Z"))
        #expect(opening == (try Self.at("2026-03-08T07:00:00Z")))
        #expect(window.closing(at: opening) == (try Self.at("2026-03-08T08:00:00Z")))
    }

    /// Around both of Berlin's changes, minute by minute: `contains` agrees with the occurrences,
    /// every opening is inside its window, and openings only move forward.
    @Test(arguments: ["2026-03-27T00:00:00Z", "2026-10-23T00:00:00Z"])
    func agreesWithItselfAroundTheChanges(from text: String) throws {
        let windows = try [
            Self.window(["sat", "sun"], "02:00", "03:00"), Self.window(["sat", "sun"], "22:00", "02:30"),
            Self.window(["sun"], "01:00", "04:00"), Self.window(["fri", "sat", "sun", "mon"], "02:30", "02:15"),
        ]
        let start = try Self.at(text)
        for window in windows {
            var previous: Date?
            for minute in stride(from: 0, to: 4 * 1440, by: 7) {
                let date = start.addingTimeInterval(Double(minute * 60))
                let next = window.nextOpening(after: date)
                #expect(next > date, "\(window) at \(date)")
                #expect(window.contains(next), "\(window) opens at \(next)")
                #expect(window.closing(at: next).map { $0 > next } == true)
                if let previous { #expect(next >= previous, "\(window) at \(date)") }
                previous = next
                if let interval = window.occurrence(containing: date) {
                    #expect(window.contains(date))
                    #expect(interval.start <= date && date < interval.end)
                }
            }
        }
    }
}
