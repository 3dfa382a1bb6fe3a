import Foundation

/// `lifeboat daemon`: loads the configuration, runs `Daemon` until SIGTERM, exits with its status.
public enum DaemonCommand {
    /// Logs at info by default (the journal is the daemon's record), debug with `-v`.
    public static func run(configOption: String?, verbosity: Int) async -> Never {
        await CommandRunner.runAsync(configOption: configOption, verbosity: verbosity + 1) { path, configuration in
            try await Daemon(configuration: configuration, configPath: path, logger: CommandRunner.logger()).run()
        }
    }
}
