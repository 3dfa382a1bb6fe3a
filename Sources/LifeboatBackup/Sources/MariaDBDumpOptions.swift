/// What a `mariadb` or `mysql` source dumps, and how it logs in. Valid by construction: the initializer
/// checks every rule, so a source that exists can be dumped as described.
///
/// Configuration keys (the loader maps them here): `kind: mariadb|mysql` (``flavour``), `database` or
/// `databases` (``databases``), `tables`, `exclude_tables`, `defaults_file`, `dump_command`.
public struct MariaDBDumpOptions: Sendable, Equatable {
    /// Which server family, and so which dump tool is looked for first.
    public enum Flavour: String, Sendable, CaseIterable {
        /// `mariadb-dump`, or `mysqldump` where only that is installed.
        case mariadb
        /// `mysqldump`.
        case mysql
    }

    /// `kind:` in the configuration; also the manifest's component kind.
    public let flavour: Flavour
    /// `database` / `databases`: each is dumped on its own (no `--databases`, so the dump has no
    /// `CREATE DATABASE`/`USE` and loads into any database name, e.g. a scratch database for a restore
    /// drill). At least one; no duplicates.
    public let databases: [String]
    /// `tables`: only these tables (and the routines, triggers and events of the database); allowed
    /// with exactly one database. Empty means every table.
    public let tables: [String]
    /// `exclude_tables`: tables left out, as `table` (in every listed database) or `database.table`;
    /// passed as `--ignore-table=database.table`.
    public let excludeTables: [String]
    /// `defaults_file`: a MariaDB option file with the login (`[client]` `user`, `password`, and
    /// `socket` or `host`/`port`), passed as `--defaults-file=` so that it is the only option file
    /// read. The password is never put on a command line. Nil: the tool reads the standard option
    /// files (`/etc/mysql/my.cnf`, `~/.my.cnf`), e.g. root through unix_socket authentication on Debian.
    public let defaultsFile: String?
    /// `dump_command`: the dump tool's absolute path; nil looks up `mariadb-dump`, then `mysqldump`
    /// (flavour mariadb), or `mysqldump` (flavour mysql) in `PATH`.
    public let dumpCommand: String?

    /// Checks the rules; the error names the rule that was broken.
    public init(
        flavour: Flavour = .mariadb, databases: [String], tables: [String] = [], excludeTables: [String] = [],
        defaultsFile: String? = nil, dumpCommand: String? = nil
    ) throws(BackupError) {
        guard !databases.isEmpty else { throw BackupError(.usage, "at least one database is needed") }
        for name in databases {
            guard Self.isUsableName(name), name != ".", name != "..", !name.contains("/") else {
                throw BackupError(.usage, "'\(name)' cannot be used as a database name")
            }
        }
        if let duplicate = Dictionary(grouping: databases, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw BackupError(.usage, "database '\(duplicate)' is listed twice")
        }
        guard tables.isEmpty || databases.count == 1 else {
            throw BackupError(
                .usage, "tables can be chosen only when one database is dumped (\(databases.count) are listed)")
        }
        for name in tables + excludeTables where !Self.isUsableName(name) {
            throw BackupError(.usage, "'\(name)' cannot be used as a table name")
        }
        if let defaultsFile, !defaultsFile.hasPrefix("/") {
            throw BackupError(.usage, "the defaults file must be an absolute path, not '\(defaultsFile)'")
        }
        if let dumpCommand, !dumpCommand.hasPrefix("/") {
            throw BackupError(.usage, "the dump command must be an absolute path, not '\(dumpCommand)'")
        }
        self.flavour = flavour
        self.databases = databases
        self.tables = tables
        self.excludeTables = excludeTables
        self.defaultsFile = defaultsFile
        self.dumpCommand = dumpCommand
    }

    /// The options every dump gets: one consistent InnoDB snapshot (`--single-transaction`, no table
    /// locks), stored routines, triggers and events with the tables, binary columns as hex literals.
    public static let dumpFlags = ["--single-transaction", "--routines", "--triggers", "--events", "--hex-blob"]

    /// The `--ignore-table=` arguments for `database`: `database.table` exclusions for it, and bare
    /// table names.
    func ignoreTableArguments(for database: String) -> [String] {
        excludeTables.compactMap { entry -> String? in
            if databases.contains(where: { entry.hasPrefix($0 + ".") }) {
                return entry.hasPrefix(database + ".") ? "--ignore-table=" + entry : nil
            }
            return "--ignore-table=\(database).\(entry)"
        }
    }

    private static func isUsableName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("\0") && !name.contains("\n")
    }
}
