import ArgumentParser
import Foundation
import LifeboatAgent

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot from a store, or an archive file, into a new or empty folder.",
        discussion: """
            Nothing appears in the target until the whole archive has been decrypted and every file hash
            checked. An archive file downloaded by hand can be restored without a configuration:
              lifeboat restore FILE.tar.zst.age --identity KEY --target DIR
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot id (or unique prefix), or the path of an archive file.") var snapshot: String?
    @Flag(help: "The newest snapshot of this host.") var latest = false
    @Option(help: "Read from this store.") var store: String?
    @Option(help: "With --latest: this host's newest snapshot.") var host: String?
    @Option(help: "With --latest: this job's newest snapshot.") var job: String?
    @Option(help: "The folder to restore into (new or empty).") var target: String?
    @Option(name: .customLong("component"), help: "Restore only this component (repeatable).") var components: [String] = []
    @Flag(help: "Show what would be restored; write nothing.") var dryRun = false
    @Option(help: "Identity file (default: encryption.identity_file).") var identity: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let options = RestoreCommand.Options(
            reference: snapshot, latest: latest, store: store, host: host, job: job, target: target,
            components: components, dryRun: dryRun, identityFile: identity, json: json)
        let path = CommandRunner.configPath(global.config)
        if let snapshot, FileManager.default.fileExists(atPath: snapshot), !FileManager.default.fileExists(atPath: path) {
            CommandRunner.runWithoutConfiguration(verbosity: global.verbose) { _ in
                try RestoreCommand.run(agent: nil, options: options)
            }
        }
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try RestoreCommand.run(agent: agent, options: options)
        }
    }
}
