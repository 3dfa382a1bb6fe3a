import ArgumentParser
import LifeboatAgent

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check archives on stores: stored bytes against the sidecar, and with --deep every file inside.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot ids (default: every snapshot).") var snapshots: [String] = []
    @Flag(help: "Only the newest snapshot of this host.") var latest = false
    @Flag(help: "Decrypt, check every file hash and run SQLite integrity checks.") var deep = false
    @Option(help: "Only this store.") var store: String?
    @Option(help: "Only this host's snapshots.") var host: String?
    @Option(help: "Only this job's snapshots.") var job: String?
    @Option(help: "Identity file for --deep (default: encryption.identity_file).") var identity: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try VerifyCommand.run(
                agent: agent, snapshots: snapshots, latest: latest, deep: deep, store: store, host: host, job: job,
                identityFile: identity, json: json)
        }
    }
}
