import Foundation
import LifeboatSchedule

extension JobConfiguration {
    /// The zone the job's schedule is read in: `timezone`, else the machine's own zone (as cron does).
    public var scheduleTimeZone: TimeZone {
        timezone.flatMap { TimeZone(identifier: $0) } ?? TimeZone.current
    }

    /// The job's cron schedule in its zone; nil when it has none (it runs only when started by hand).
    public func cronSchedule() throws(CronError) -> CronSchedule? {
        guard let schedule else { return nil }
        return CronSchedule(expression: try CronExpression(parsing: schedule), timeZone: scheduleTimeZone)
    }
}
