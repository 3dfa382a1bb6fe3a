import ArgumentParser
import LifeboatAgent

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take one snapshot now.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "The job to run (default: the only job).") var job: String?
    @Option(help: "Send to this store only.") var store: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try BackupCommand.run(agent: agent, job: job, store: store, json: json)
        }
    }
}
