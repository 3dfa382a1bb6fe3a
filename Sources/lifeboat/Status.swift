import ArgumentParser
import LifeboatAgent

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each job's schedule, next run, last run, newest snapshot per store and staleness.",
        discussion: """
            Reads the configuration and the state database only. Exit status 0 when every job is fine, 1 when \
            any job is stale, its last run failed, was partial or was interrupted, or its schedule is invalid.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this job.") var job: String?
    @Option(help: "List the last N runs of each job (default: none in the table, 10 in JSON).") var runs: Int?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try StatusCommand.run(agent: agent, job: job, runs: runs, json: json)
        }
    }
}
