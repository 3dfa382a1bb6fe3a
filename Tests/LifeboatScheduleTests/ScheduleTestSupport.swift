import Foundation
import LifeboatSchedule
import Testing

/// Parses an ISO 8601 instant in a test, failing the test if it does not parse.
func instant(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Date {
    try #require(ScheduleText.parseISO8601(text), "not an ISO 8601 instant: \(text)", sourceLocation: sourceLocation)
}

/// The next `count` fire times of `expression` in `zone` strictly after `after`, as ISO 8601 with offsets.
func fires(_ expression: String, in zone: String = "UTC", after: String, count: Int) throws -> [String] {
    let schedule = try CronSchedule(parsing: expression, timeZoneIdentifier: zone)
    return schedule.fireTimes(after: try instant(after), count: count).map {
        ScheduleText.iso8601($0, in: schedule.timeZone)
    }
}

/// The latest fire time in `(since, until]`, as ISO 8601 with the zone's offset.
func missed(_ expression: String, in zone: String = "UTC", since: String, until: String) throws -> String? {
    let schedule = try CronSchedule(parsing: expression, timeZoneIdentifier: zone)
    return schedule.missedFire(since: try instant(since), until: try instant(until)).map {
        ScheduleText.iso8601($0, in: schedule.timeZone)
    }
}
