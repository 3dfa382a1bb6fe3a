import ArgumentParser
import LifeboatAgent

struct Snapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List snapshots on stores (any host's), from their sidecars; needs no key.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this store.") var store: String?
    @Option(help: "Only this host's snapshots.") var host: String?
    @Option(help: "Only this job's snapshots.") var job: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try SnapshotsCommand.run(agent: agent, store: store, host: host, job: job, json: json)
        }
    }
}
