import Foundation
import LifeboatCurl

#if canImport(Glibc)
    import Glibc
#endif

/// An update server (`packaging/test-servers/firmware_server.py`) of one test: it serves the files
/// of a private folder over TLS with its own test CA (or plain http), answers Range requests, logs
/// every request, and misbehaves on demand.
final class FirmwareTestServer {
    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    let baseURL: String
    /// The folder whose files are served.
    let root: String
    /// The test CA that signed the server's certificate.
    let caFile: String
    /// A CA that signed nothing the server uses.
    let strangerCAFile: String
    private let directory: String
    private let process: Process

    /// One request as the server saw it.
    struct Request: Decodable {
        var seq: Int
        var method: String
        var path: String
        /// The `Range` header, if any.
        var range: String?
        var status: Int?
        /// Body bytes the server wrote to the socket.
        var bodyBytes: Int64
        /// Whether the answer was cut short (on purpose, or because the client went away).
        var dropped: Bool

        enum CodingKeys: String, CodingKey {
            case seq, method, path, range, status, dropped
            case bodyBytes = "body_bytes"
        }
    }


    init(tls: Bool = true) throws {
        let materials = try Self.materials.get()
        caFile = materials.caFile
        strangerCAFile = materials.strangerCAFile
        directory = try PerTestServer.privateFolder("firmware")
        root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let portFile = directory + "/port"
        let log = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        var arguments = ["python3", Self.script, "--root", root, "--port-file", portFile]
        if tls { arguments += ["--tls-cert", materials.serverCertificate, "--tls-key", materials.serverKey] }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try output.close()
        let port = try PerTestServer.waitForPort(of: process, portFile: portFile, log: log, name: "firmware")
        baseURL = "\(tls ? "https" : "http")://127.0.0.1:\(port)"
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `baseURL + "/" + name`.
    func url(_ name: String) -> String { "\(baseURL)/\(name)" }

    /// Serves `bytes` as `name` from now on.
    func put(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
    }

    func remove(_ name: String) {
        try? FileManager.default.removeItem(atPath: root + "/" + name)
    }

    /// What the server printed (errors, tracebacks), for failure messages.
    var output: String {
        (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
    }

    // MARK: Control

    /// Queues fault rules: `["path": "/feed.json.minisig", "status": 404]`, `["drop_after": 1000]`, …
    /// (see the script's documentation).
    func addFaults(_ rules: [[String: Any]]) throws {
        _ = try control("POST", "faults", body: try JSONSerialization.data(withJSONObject: rules))
    }

    /// Every request for a file so far, once all of them are answered.
    func log() throws -> [Request] {
        try JSONDecoder().decode([Request].self, from: Data(control("GET", "log")))
    }

    private func control(_ method: String, _ action: String, body: Data? = nil) throws -> [UInt8] {
        try PerTestServer.control(baseURL, caFile: caFile, method, action, body: body, name: "firmware", output: output)
    }

    /// `packaging/test-servers/firmware_server.py` in this checkout.
    static var script: String {
        let source = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        return source.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("packaging/test-servers/firmware_server.py").path
    }

    // MARK: Certificates

    /// Made once per test process, in a private folder removed when the process exits.
    static let materials: Result<PerTestServer.TLSMaterials, any Error> = Result {
        let materials = try PerTestServer.makeTLSMaterials("firmware-tls", caName: "Lifeboat firmware test CA")
        atexit {
            if case .success(let materials) = FirmwareTestServer.materials {
                try? FileManager.default.removeItem(atPath: materials.folder)
            }
        }
        return materials
    }
}
