import Foundation
import Logging

/// Runs a command body the same way for every subcommand: configuration, logging, errors and exit codes.
public enum CommandRunner {
    /// The configuration path: `--config`, else `LIFEBOAT_CONFIG`, else `/etc/lifeboat/lifeboat.yaml`.
    public static func configPath(_ option: String?) -> String {
        option ?? ProcessInfo.processInfo.environment["LIFEBOAT_CONFIG"] ?? "/etc/lifeboat/lifeboat.yaml"
    }

    /// Sets up logging to standard error: warnings by default, `-v` info, `-vv` debug.
    public static func bootstrapLogging(verbosity: Int) {
        let level: Logger.Level = verbosity >= 2 ? .debug : verbosity == 1 ? .info : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    public static func logger() -> Logger { Logger(label: "lifeboat") }

    /// Loads the configuration and runs `body`; prints any error on standard error and exits with its status.
    public static func run(configOption: String?, verbosity: Int, _ body: (Agent) throws -> ExitStatus) -> Never {
        bootstrapLogging(verbosity: verbosity)
        exitWith {
            let configuration = try Configuration.load(path: configPath(configOption))
            return try body(Agent(configuration: configuration, logger: logger()))
        }
    }

    /// Runs `body` without configuration.
    public static func runWithoutConfiguration(verbosity: Int, _ body: (Logger) throws -> ExitStatus) -> Never {
        bootstrapLogging(verbosity: verbosity)
        exitWith { try body(logger()) }
    }

    /// Loads the configuration and runs an asynchronous `body` (the daemon), like `run`.
    public static func runAsync(
        configOption: String?, verbosity: Int, _ body: (_ path: String, Configuration) async throws -> ExitStatus
    ) async -> Never {
        bootstrapLogging(verbosity: verbosity)
        let status: ExitStatus
        do {
            let path = configPath(configOption)
            status = try await body(path, try Configuration.load(path: path))
        } catch {
            status = report(error)
        }
        finish(status)
    }

    private static func exitWith(_ body: () throws -> ExitStatus) -> Never {
        let status: ExitStatus
        do {
            status = try body()
        } catch {
            status = report(error)
        }
        finish(status)
    }

    /// Prints `error` on standard error; returns the exit status it ends the command with.
    private static func report(_ error: any Error) -> ExitStatus {
        fflush(nil)
        StandardError.write("error: \(error)\n")
        return ExitStatus.of(error)
    }

    private static func finish(_ status: ExitStatus) -> Never {
        fflush(nil)
        exit(status.rawValue)
    }
}
