import ArgumentParser
import LifeboatAgent

struct Drill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rehearse a restore of each job's newest snapshot on every store (exit 1 when one fails).",
        discussion: """
            With an identity configured, each snapshot is restored into a scratch folder under state_dir, every \
            file hash and SQLite database is checked, and MariaDB dumps are loaded into a scratch database \
            when the job's drill has database_defaults_file; without one, the stored bytes are checked \
            against the sidecar. The time taken is recorded and shown by `lifeboat status`.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this job.") var job: String?
    @Flag(help: "Print JSON: one report per job.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try DrillCommand.run(agent: agent, job: job, json: json)
        }
    }
}
