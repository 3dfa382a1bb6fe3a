import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the servers that tests start for themselves share (Graph, webhook, AMI, SMTP): a private
/// folder of certificates made with `openssl`, and waiting for a started server to report its port.
enum PerTestServer {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A new folder under the temporary directory, mode 700, named `lifeboat-PREFIX-PID-RANDOM`.
    static func privateFolder(_ prefix: String) throws -> String {
        let folder = NSTemporaryDirectory() + "lifeboat-\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder
    }

    /// Runs `openssl ARGUMENTS` in `folder`, quietly; throws naming the subcommand when it fails.
    static func openssl(_ arguments: [String], in folder: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed")
        }
    }

    /// Waits up to 15 s for `process` to write its port number to `portFile`. A server that exits
    /// first, or does not answer in time, is killed, and the error quotes its log.
    static func waitForPort(of process: Process, portFile: String, log: String, name: String) throws -> Int {
        let deadline = Date().addingTimeInterval(15)
        while true {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return port
            }
            if !process.isRunning || Date() > deadline {
                let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw Failure(description: "the \(name) test server did not start: \(said)")
            }
            usleep(10_000)
        }
    }
}
