import Foundation
import LifeboatSchedule

/// `lifeboat schedule next EXPR [--timezone TZ] [--from ISO8601] [--count N]`: the next fire times
/// of a cron expression, one per line, ISO 8601 with the zone's offset at that instant.
public enum ScheduleNextCommand {
    public static func run(expression: String, timeZone: String?, from: String?, count: Int) throws -> ExitStatus {
        guard (1...10_000).contains(count) else { throw CommandError(.usage, "--count must be between 1 and 10000") }
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(parsing: expression, timeZoneIdentifier: timeZone ?? "UTC")
        } catch {
            throw CommandError(.usage, "\(error)")
        }
        var start = Date()
        if let from {
            guard let parsed = ScheduleText.parseISO8601(from) else {
                throw CommandError(.usage, "--from '\(from)' is not an ISO 8601 time with an offset (2026-03-29T01:00:00+01:00 or …Z)")
            }
            start = parsed
        }
        let times = schedule.fireTimes(after: start, count: count)
        guard !times.isEmpty else {
            throw CommandError(.usage, "cron expression \"\(expression)\" never fires (e.g. 30 February)")
        }
        for time in times { Console.out(ScheduleText.iso8601(time, in: schedule.timeZone)) }
        return .success
    }
}
