import ArgumentParser
import LifeboatAgent

@main
struct Lifeboat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifeboat",
        abstract: "Backup, archive and contingency agent for PBX systems.",
        discussion: """
            Exit codes: 0 success, 1 failure, 2 partial (some stores failed), 64 usage or configuration error,
            75 temporary failure (try again later).
            """,
        version: Agent.version,
        subcommands: [
            Demo.self, Keygen.self, Backup.self, Snapshots.self, Verify.self, Restore.self, Prune.self, Config.self,
            Schedule.self, Status.self, Daemon.self, Events.self, Notify.self, Notifications.self,
            Firmware.self, Drill.self,
        ])
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $LIFEBOAT_CONFIG or /etc/lifeboat/lifeboat.yaml).")
    var config: String?

    @Flag(name: .shortAndLong, help: "More log output on standard error (-v info, -vv debug).")
    var verbose: Int
}
