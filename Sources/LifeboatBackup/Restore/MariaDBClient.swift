import Foundation
import LifeboatCore
import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// The `mariadb` (or `mysql`) command-line client, run as a subprocess with the source's login, for
/// in-place restores: loading dumps and running statements.
///
/// The login comes from `--defaults-file` (or the standard option files) only; `MYSQL_*` and
/// `MARIADB_*` variables in the agent's environment are not passed on, as for the dump. Statements
/// go through a private file on standard input, never on the command line.
struct MariaDBClient {
    /// The client's absolute path.
    let tool: String
    let defaultsFile: String?
    /// A private folder for statement files.
    let workDirectory: String

    /// `mariadb`, then `mysql` (flavour mariadb), or `mysql` (flavour mysql), in `searchPath`
    /// (default: this process's `PATH`).
    static func find(flavour: MariaDBDumpOptions.Flavour, searchPath: String? = nil) throws -> String {
        let names = flavour == .mariadb ? ["mariadb", "mysql"] : ["mysql"]
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":").map(String.init) where folder.hasPrefix("/") {
            for name in names where access(folder + "/" + name, X_OK) == 0 { return folder + "/" + name }
        }
        throw InPlaceRestoreError(
            "\(names.joined(separator: " or ")) is not installed (Debian: apt install mariadb-client); it loads the dumps"
        )
    }

    private var toolName: String { tool.split(separator: "/").last.map(String.init) ?? tool }

    /// Runs `sql` (statements separated by `;`, `DELIMITER` allowed) and returns the rows of the last
    /// results, each a list of column values (`NULL` for SQL NULL).
    @discardableResult
    func run(_ sql: String, database: String? = nil, what: String) throws -> [[String]] {
        let file = workDirectory + "/statement-\(SnapshotID.generate().rawValue).sql"
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw InPlaceRestoreError("cannot write \(file): \(errnoText())") }
        let bytes = Array(sql.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(file) }
        guard written == bytes.count else { throw InPlaceRestoreError("cannot write \(file): \(errnoText())") }
        let output = try execute(
            ["--batch", "--skip-column-names"] + (database.map { [$0] } ?? []), input: file, what: what)
        return output.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map { Self.unescape(String($0)) }
        }
    }

    /// Loads a dump file into `database`.
    func load(_ file: String, into database: String, what: String) throws {
        _ = try execute([database], input: file, what: what)
    }

    private func execute(_ arguments: [String], input: String, what: String) throws -> String {
        let environment = ChildProcess.currentEnvironment { $0.hasPrefix("MYSQL_") || $0.hasPrefix("MARIADB_") }
        var child = ChildProcess(
            tool, arguments: (defaultsFile.map { ["--defaults-file=" + $0] } ?? []) + arguments,
            environment: environment)
        child.standardInput = input
        child.standardOutputLimit = 16 << 20
        let result: ChildProcess.Result
        do {
            result = try child.run()
        } catch {
            throw InPlaceRestoreError("\(what): \(error)")
        }
        guard result.succeeded else {
            let said = result.standardErrorText.split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                    !$0.isEmpty && !$0.hasPrefix("--------------")
                }
            throw InPlaceRestoreError(
                "\(what): \(toolName) failed (\(result.termination))"
                    + (said.isEmpty ? "" : ": " + String(said.joined(separator: "; ").suffix(1500))))
        }
        return result.standardOutputText
    }

    /// Batch mode writes a tab as `\t`, a newline as `\n`, a backslash as `\\` and NUL as `\0`.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var out = ""
        var escaped = false
        for ch in text {
            if escaped {
                switch ch {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "0": out.append("\0")
                default: out.append(ch)
                }
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// `name` as an SQL identifier.
    static func identifier(_ name: String) -> String { "`" + name.replacingOccurrences(of: "`", with: "``") + "`" }

    /// `text` as an SQL string literal.
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
