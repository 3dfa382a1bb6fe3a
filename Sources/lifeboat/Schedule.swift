import ArgumentParser
import LifeboatAgent

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cron schedule tools.", subcommands: [Next.self])

    struct Next: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the next fire times of a cron expression, one per line (ISO 8601 with offset).")

        @Argument(help: "Five fields (minute hour day-of-month month day-of-week) or @hourly/@daily/@weekly/@monthly/@yearly.")
        var expression: String

        @Option(help: "IANA time zone the expression is read in (default UTC).")
        var timezone: String?

        @Option(help: "Start after this instant (ISO 8601 with offset; default now).")
        var from: String?

        @Option(help: "How many fire times to print.")
        var count: Int = 5

        func run() throws {
            CommandRunner.runWithoutConfiguration(verbosity: 0) { _ in
                try ScheduleNextCommand.run(expression: expression, timeZone: timezone, from: from, count: count)
            }
        }
    }
}
