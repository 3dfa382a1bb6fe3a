import ArgumentParser
import LifeboatAgent

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply each store's retention to this host's jobs; the newest verified snapshot is always kept.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Say what would be deleted and why; delete nothing.") var dryRun = false
    @Option(help: "Only this store.") var store: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try PruneCommand.run(agent: agent, dryRun: dryRun, store: store, json: json)
        }
    }
}
