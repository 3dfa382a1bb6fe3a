import Foundation
import Testing

@testable import LifeboatSchedule

@Suite struct ScheduleTextTests {
    @Test(arguments: [
        (1_774_746_000, "Europe/Berlin", "2026-03-29T03:00:00+02:00"),
        (1_774_745_999, "Europe/Berlin", "2026-03-29T01:59:59+01:00"),
        (1_791_041_400, "Australia/Lord_Howe", "2026-10-04T02:30:00+11:00"),
        (1_791_041_399, "Australia/Lord_Howe", "2026-10-04T01:59:59+10:30"),
        (1_793_512_800, "America/New_York", "2026-11-01T01:00:00-05:00"),
        (1_774_746_000, "UTC", "2026-03-29T01:00:00+00:00"),
        (1_774_746_000, "Asia/Kolkata", "2026-03-29T06:30:00+05:30"),
        (0, "UTC", "1970-01-01T00:00:00+00:00"),
        (-1, "UTC", "1969-12-31T23:59:59+00:00"),
    ])
    func formatsWithTheOffsetAtThatInstant(seconds: Int, zone: String, text: String) throws {
        let timeZone = try #require(TimeZone(identifier: zone))
        #expect(ScheduleText.iso8601(Date(timeIntervalSince1970: Double(seconds)), in: timeZone) == text)
        #expect(ScheduleText.parseISO8601(text) == Date(timeIntervalSince1970: Double(seconds)))
    }

    @Test func formattingAgreesWithCalendar() throws {
        for zone in ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns"] {
            let timeZone = try #require(TimeZone(identifier: zone))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            for step in 0..<500 {
                let date = Date(timeIntervalSince1970: 1_767_225_600 + Double(step) * 63_301)
                let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
                let text = ScheduleText.iso8601(date, in: timeZone)
                let prefix = String(
                    format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
                #expect(text.hasPrefix(prefix), "\(text) in \(zone)")
                #expect(ScheduleText.parseISO8601(text) == date)
            }
        }
    }

    @Test(arguments: [
        ("2026-03-29T01:00:00Z", 1_774_746_000.0),
        ("2026-03-29T01:00:00z", 1_774_746_000.0),
        ("2026-03-29t03:00:00+02:00", 1_774_746_000.0),
        ("2026-03-29 03:00:00+0200", 1_774_746_000.0),
        ("2026-03-29T03:00+02", 1_774_746_000.0),
        ("2026-03-28T20:00:00-05:00", 1_774_746_000.0),
        ("2026-03-29T01:00:00.250Z", 1_774_746_000.25),
        ("2026-03-29T01:00:00,5Z", 1_774_746_000.5),
        ("2024-02-29T00:00:00Z", 1_709_164_800.0),
    ])
    func parsesOffsetsAndZ(text: String, seconds: Double) {
        #expect(ScheduleText.parseISO8601(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test(arguments: [
        "", "garbage", "2026-03-29", "2026-03-29T03:00:00", "2026-03-29T03:00:00+2:00", "2026-02-30T00:00:00Z",
        "2026-13-01T00:00:00Z", "2026-03-29T24:00:00Z", "2026-03-29T03:60:00Z", "2026-03-29T03:00:00Zjunk",
        "2026-03-29T03:00:00+24:00", "2026-03-29T03:00:00.Z", "2025-02-29T00:00:00Z", "26-03-29T03:00:00Z",
    ])
    func refusesWhatIsNotAnInstant(text: String) {
        #expect(ScheduleText.parseISO8601(text) == nil)
    }
}
