import Foundation
import LifeboatCore

#if canImport(Glibc)
    import Glibc
#endif

/// One database dumped with `mariadb-dump` (or `mysqldump`) straight into the archive: the tool's
/// standard output is the stream, nothing is written to disk.
///
/// The dump is one transaction (`--single-transaction`): InnoDB tables are read as of one moment while
/// the PBX keeps writing. Tables of non-transactional engines (MyISAM, Aria) are read as they are
/// while the dump reaches them. The tool's exit status and standard error are checked after the stream
/// ended; a failed dump fails the backup with the tool's own message.
public struct MariaDBDump: StreamProducer {
    /// The source (component) name.
    public let component: String
    public let database: String
    /// The dump tool's absolute path.
    public let tool: String
    /// Everything after the program name; never a password.
    public let arguments: [String]

    public var archivePath: String { "components/\(component)/\(database).sql" }

    /// `mariadb-dump` or `mysqldump`.
    public var toolName: String { tool.split(separator: "/").last.map(String.init) ?? tool }

    /// How the manifest describes the consistency: `mariadb-dump --single-transaction`.
    public var consistency: String { toolName + " --single-transaction" }

    public var description: String { "\(toolName) of database '\(database)'" }

    /// The dumps of a source, one per database, in the listed order. Finds the tool and checks that the
    /// defaults file exists, so that a broken setup fails before the archive is started.
    public static func plan(component: String, options: MariaDBDumpOptions, searchPath: String? = nil) throws
        -> [MariaDBDump]
    {
        let tool = try findTool(component: component, options: options, searchPath: searchPath)
        if let file = options.defaultsFile, access(file, F_OK) != 0 {
            throw BackupError(.sourceMissing, "source '\(component)': the defaults file \(file) does not exist")
        }
        let login = options.defaultsFile.map { ["--defaults-file=" + $0] } ?? []
        return options.databases.map { database in
            MariaDBDump(
                component: component, database: database, tool: tool,
                arguments: login + MariaDBDumpOptions.dumpFlags + options.ignoreTableArguments(for: database)
                    + ["--", database] + options.tables)
        }
    }

    /// `dump_command`, or the flavour's tools looked up in `searchPath` (default: this process's `PATH`).
    static func findTool(component: String, options: MariaDBDumpOptions, searchPath: String?) throws -> String {
        if let command = options.dumpCommand {
            guard access(command, X_OK) == 0 else {
                throw BackupError(
                    .sourceMissing, "source '\(component)': the dump command \(command) is missing or not executable")
            }
            return command
        }
        let names = options.flavour == .mariadb ? ["mariadb-dump", "mysqldump"] : ["mysqldump"]
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let folders = path.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for name in names {
            for folder in folders where access(folder + "/" + name, X_OK) == 0 {
                return folder + "/" + name
            }
        }
        throw BackupError(
            .sourceMissing,
            "source '\(component)': \(names.joined(separator: " or ")) is not installed (Debian: apt install mariadb-client)"
        )
    }

    /// Runs the dump; returns the tool's warnings (standard error of a successful dump), if any.
    @discardableResult
    public func produce(cancellation: CancellationFlag?, into write: (UnsafeRawBufferPointer) throws -> Void) throws
        -> [String]
    {
        // The login comes from the defaults file (or the standard option files) only: variables such as
        // MYSQL_PWD, MYSQL_HOST or MYSQL_UNIX_PORT in the agent's environment must not change it.
        let environment = ChildProcess.currentEnvironment { $0.hasPrefix("MYSQL_") || $0.hasPrefix("MARIADB_") }
        let child = ChildProcess(tool, arguments: arguments, environment: environment)
        let result: ChildProcess.Result
        do {
            result = try child.run(cancellation: cancellation, standardOutput: write)
        } catch let failure as ChildProcess.Failure {
            throw BackupError(.sourceUnreadable, "source '\(component)': \(failure.message)")
        }
        let messages = result.standardErrorText.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if case .cancelled(let reason) = result.interruption {
            throw BackupError(.cancelled, "the backup was stopped before it was committed: \(reason)")
        }
        guard result.succeeded else {
            let said =
                messages.isEmpty ? "it printed no message" : String(messages.joined(separator: "; ").suffix(2000))
            throw BackupError(
                .sourceUnreadable,
                "source '\(component)': \(toolName) of database '\(database)' failed (\(result.termination)): \(said)")
        }
        return messages
    }
}
