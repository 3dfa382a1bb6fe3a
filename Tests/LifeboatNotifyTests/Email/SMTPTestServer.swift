import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An SMTP server of a test's own: `packaging/test-servers/smtp_server.py` (the script of the shared
/// servers, `SMTP_SERVER_SCRIPT` in servers.env) run by the test venv's Python (`TEST_PYTHON`) on a
/// free port of 127.0.0.1, with its own mailbox and session log in a temporary folder.
///
/// ``stop()`` and ``start()`` take the server down and bring it back on the same port, for tests of
/// what happens while it is away; the mailbox and log survive a restart. The folder is removed and
/// the process stopped when the value goes away.
final class SMTPTestServer {
    /// `starttls`, `tls` or `plain` (see smtp_server.py).
    let mode: String
    let directory: String
    /// The port it listens on; chosen by the first start, kept by restarts.
    private(set) var port: Int = 0
    private let servers: TestServers
    private let extraArguments: [String]
    private var process: Process?

    var mailbox: String { directory + "/mailbox" }
    var sessionLogPath: String { directory + "/sessions.jsonl" }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts a `mode` server on a free port; `extraArguments` go to smtp_server.py (`--greeting 421`).
    init(servers: TestServers, mode: String, extraArguments: [String] = []) throws {
        self.servers = servers
        self.mode = mode
        self.extraArguments = extraArguments
        directory = FileManager.default.temporaryDirectory.path + "/lifeboat-smtp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts the server (on the port of the first start, if there was one) and waits until it listens.
    func start() throws {
        guard process == nil else { return }
        let portFile = directory + "/ports.json"
        try? FileManager.default.removeItem(atPath: portFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try servers["TEST_PYTHON"])
        process.arguments =
            [
                try servers["SMTP_SERVER_SCRIPT"], "--\(mode)-port", String(port),
                "--username", try servers["SMTP_USERNAME"], "--password-file", try servers["SMTP_PASSWORD_FILE"],
                "--cert", try servers["SMTP_CERT_FILE"], "--key", try servers["SMTP_KEY_FILE"],
                "--mailbox", mailbox, "--session-log", sessionLogPath, "--port-file", portFile,
            ] + extraArguments
        if !FileManager.default.fileExists(atPath: directory + "/server.log") {
            _ = FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/server.log"))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: portFile),
                let ports = try? JSONSerialization.jsonObject(with: data) as? [String: Int], let bound = ports[mode]
            {
                port = bound
                return
            }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        let output = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
        stop()
        throw Failed(description: "smtp_server.py (\(mode)) did not start within 15 s: \(output)")
    }

    /// Stops the server (SIGTERM, SIGKILL after 5 s) and waits until it has exited and its port is closed.
    func stop() {
        guard let process else { return }
        self.process = nil
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The `.eml` files in the mailbox, by name.
    func storedMessages() throws -> [String] {
        guard FileManager.default.fileExists(atPath: mailbox) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: mailbox).filter { $0.hasSuffix(".eml") }.sorted()
    }

    /// The session log: one dictionary per connection, command and message.
    func sessionLog() throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: sessionLogPath, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }
}
