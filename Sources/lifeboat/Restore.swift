import ArgumentParser
import Foundation
import LifeboatAgent

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot into a new or empty folder, or in place over the live PBX.",
        discussion: """
            With --target, nothing appears in the folder until the whole archive has been decrypted and every
            file hash checked. An archive file downloaded by hand can be restored without a configuration:
              lifeboat restore FILE.tar.zst.age --identity KEY --target DIR

            With --in-place, every component goes back where it was backed up from: the archive is read and
            checked first, then pre_restore hooks run (e.g. stop Asterisk), each component is replaced
            atomically, and post_restore hooks run (e.g. start Asterisk). A failure puts back what was there.
            A snapshot from a newer (or unknown) firmware than the running one is refused unless --force.

            On a new machine, with a configuration that names only the store and the key:
              lifeboat restore --latest --store S --host OLD-PBX --target DIR   (or --in-place)
            restores the newest snapshot of that host whose stored bytes match its sidecar.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot id (or unique prefix), or the path of an archive file.") var snapshot: String?
    @Flag(help: "The newest good snapshot of the host (--host, default this machine).") var latest = false
    @Option(help: "Read from this store.") var store: String?
    @Option(help: "With --latest: this host's snapshots (default: this machine's).") var host: String?
    @Option(help: "With --latest: this job's snapshots.") var job: String?
    @Option(help: "The folder to restore into (new or empty).") var target: String?
    @Flag(help: "Restore over the live data, where each component was backed up from.") var inPlace = false
    @Flag(help: "With --in-place: restore a snapshot from a newer or unknown firmware anyway.") var force = false
    @Option(name: .customLong("component"), help: "Restore only this component (repeatable).") var components:
        [String] = []
    @Flag(help: "Show what would be restored; write nothing.") var dryRun = false
    @Option(help: "Identity file (default: encryption.identity_file).") var identity: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let options = RestoreCommand.Options(
            reference: snapshot, latest: latest, store: store, host: host, job: job, target: target,
            components: components, dryRun: dryRun, identityFile: identity, json: json, inPlace: inPlace, force: force)
        let path = CommandRunner.configPath(global.config)
        if let snapshot, FileManager.default.fileExists(atPath: snapshot), !FileManager.default.fileExists(atPath: path)
        {
            CommandRunner.runWithoutConfiguration(verbosity: global.verbose) { _ in
                try RestoreCommand.run(agent: nil, options: options)
            }
        }
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try RestoreCommand.run(agent: agent, options: options)
        }
    }
}
