import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One Python test server of one test (`packaging/test-servers/webhook_server.py` or
/// `ami_server.py`), in a private temporary folder, on a free port of 127.0.0.1. The process is
/// killed (SIGKILL) and the folder removed when the value is released.
///
/// The Python is `TEST_PYTHON` from the test servers' `servers.env` when there is one, else
/// `/usr/bin/python3`: the scripts use the standard library only.
final class ChannelTestProcess {
    let directory: String
    let port: Int
    private let process: Process

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Makes the folder, lets `prepare` write what the server reads there and return the script's
    /// arguments, then starts `script` with them and `--port-file` and waits for its port.
    init(name: String, script: String, prepare: (_ directory: String) throws -> [String]) throws {
        directory = NSTemporaryDirectory() + "lifeboat-\(name)-" + UUID().uuidString
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let arguments = try prepare(directory)
        let portFile = directory + "/port"
        let log = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script(script)] + arguments + ["--port-file", portFile]
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try output.close()
        port = try PerTestServer.waitForPort(of: process, portFile: portFile, log: log, name: name)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// What the server printed (errors, tracebacks), for failure messages.
    var output: String {
        (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
    }

    static let python: String = {
        if let servers = try? TestServers.load(), let python = try? servers["TEST_PYTHON"],
            FileManager.default.isExecutableFile(atPath: python)
        {
            return python
        }
        return "/usr/bin/python3"
    }()

    /// `packaging/test-servers/NAME` in this checkout.
    static func script(_ name: String) -> String {
        let source = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        return source.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/test-servers/\(name)").path
    }
}
