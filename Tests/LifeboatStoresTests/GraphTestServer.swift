import Foundation
import LifeboatCurl

#if canImport(Glibc)
    import Glibc
#endif

/// A Microsoft Graph test server (`packaging/test-servers/graph_server.py`) of one test: the token
/// endpoint and a SharePoint site with two document libraries, over TLS, on a free port of
/// 127.0.0.1. The process is killed (SIGKILL) when the value is released.
///
/// It needs nothing from `packaging/test-servers.sh`: a test CA, the server's certificate (for
/// 127.0.0.1 and localhost) and the apps' certificates are made with `openssl` once per test process.
///
/// Registered apps: ``clientID`` with ``clientSecret`` and the test certificate
/// (``certificate()``), read-write; ``readOnlyClientID`` with a secret, read only.
final class GraphTestServer {
    static let tenant = "8c5f6d0e-1b2a-4c3d-9e8f-7a6b5c4d3e2f"
    static let clientID = "5a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    static let clientSecret = "Xq8~graph-test-secret.value_0123456789"
    static let readOnlyClientID = "0f9e8d7c-6b5a-4938-2716-05f4e3d2c1b0"
    static let readOnlySecret = "read-only-secret-value"
    static let hostname = "contoso.sharepoint.com"
    static let sitePath = "/sites/it"
    static var site: String { hostname + ":" + sitePath }

    /// `https://127.0.0.1:PORT`: the login URL, and with `/v1.0` the Graph URL.
    let baseURL: String
    let caFile: String
    let directory: String
    private let process: Process

    var graphURL: String { baseURL + "/v1.0" }

    /// One request as the server saw it.
    struct LoggedRequest: Decodable {
        var seq: Int
        /// token, graph, fragment, session_status, session_cancel, download
        var kind: String
        var method: String
        var path: String
        var query: String
        var authorization: Bool
        var contentRange: String?
        var bodyBytes: Int
        var status: Int?
        var fault: String?
        /// When it arrived, seconds since 1970.
        var time: Double

        enum CodingKeys: String, CodingKey {
            case seq, kind, method, path, query, authorization, status, fault, time
            case contentRange = "content_range"
            case bodyBytes = "body_bytes"
        }
    }

    /// A file or folder in a library.
    struct Item: Decodable {
        var drive: String
        var path: String
        var size: Int64
        var folder: Bool
        var quickXorHash: String?
    }


    init(tokenLifetime: Int = 3600, pageSize: Int = 200, sessionLifetime: Int = 900) throws {
        let materials = try Self.materials.get()
        caFile = materials.caFile
        directory = NSTemporaryDirectory() + "lifeboat-graph-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        let certificate = materials.app
        let config: [String: Any] = [
            "tenant": Self.tenant, "token_lifetime": tokenLifetime, "page_size": pageSize,
            "session_lifetime": sessionLifetime, "file_host": "localhost",
            "clients": [
                [
                    "id": Self.clientID, "secret": Self.clientSecret, "certificate": certificate.certificate,
                    "roles": ["Sites.ReadWrite.All"],
                ],
                ["id": Self.readOnlyClientID, "secret": Self.readOnlySecret, "roles": ["Sites.Read.All"]],
            ],
            "sites": [["hostname": Self.hostname, "path": Self.sitePath, "drives": ["Documents", "Archive"]]],
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory + "/graph.json"))
        let portFile = directory + "/port"
        let log = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Self.script, "--config", directory + "/graph.json", "--state-dir", directory + "/state",
            "--port-file", portFile, "--tls-cert", materials.serverCertificate, "--tls-key", materials.serverKey,
        ]
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try output.close()
        let port = try PerTestServer.waitForPort(of: process, portFile: portFile, log: log, name: "Graph")
        baseURL = "https://127.0.0.1:\(port)"
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The server script: `LIFEBOAT_GRAPH_SERVER`, or the one in this checkout's `packaging/test-servers`.
    static var script: String {
        if let path = ProcessInfo.processInfo.environment["LIFEBOAT_GRAPH_SERVER"] { return path }
        let source = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        return source.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("packaging/test-servers/graph_server.py").path
    }

    // MARK: Certificates

    /// The app's test certificate and its key (RSA 2048, self-signed).
    static func certificate() throws -> (certificate: String, key: String) {
        try materials.get().app
    }

    /// A certificate the app registration does not know, and its key.
    static func unregisteredCertificate() throws -> (certificate: String, key: String) {
        try materials.get().stranger
    }

    /// The test CA (`ca_file` for the store), the server's certificate and key, and the apps' certificates.
    struct Materials {
        var folder: String
        var caFile: String
        var serverCertificate: String
        var serverKey: String
        var app: (certificate: String, key: String)
        var stranger: (certificate: String, key: String)
    }

    /// Made once per test process, in a private temporary folder removed when the process exits.
    static let materials: Result<Materials, any Error> = Result {
        let tls = try PerTestServer.makeTLSMaterials("graph-tls", caName: "Lifeboat Graph test CA")
        let folder = tls.folder
        atexit {
            if case .success(let materials) = GraphTestServer.materials {
                try? FileManager.default.removeItem(atPath: materials.folder)
            }
        }
        // App certificates: RSA, as client assertions are RS256.
        for name in ["app", "stranger"] {
            try PerTestServer.openssl(
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lifeboat-\(name)",
                    "-keyout", "\(name)-key.pem", "-out", "\(name).pem",
                ], in: folder)
            chmod(folder + "/\(name)-key.pem", 0o600)
        }
        return Materials(
            folder: folder, caFile: tls.caFile, serverCertificate: tls.serverCertificate, serverKey: tls.serverKey,
            app: (folder + "/app.pem", folder + "/app-key.pem"),
            stranger: (folder + "/stranger.pem", folder + "/stranger-key.pem"))
    }

    // MARK: Control

    /// Appends fault rules (see the script), e.g. `["kind": "fragment", "skip": 1, "status": 503]`.
    func addFaults(_ rules: [[String: Any]]) throws {
        _ = try control("POST", "faults", body: try JSONSerialization.data(withJSONObject: rules))
    }

    func expireTokens() throws { _ = try control("POST", "expire-tokens") }
    func expireSessions() throws { _ = try control("POST", "expire-sessions") }

    func removeSite() throws {
        _ = try control(
            "POST", "remove-site",
            body: try JSONSerialization.data(withJSONObject: ["hostname": Self.hostname, "path": Self.sitePath]))
    }

    /// Every request so far.
    func log() throws -> [LoggedRequest] {
        try JSONDecoder().decode([LoggedRequest].self, from: Data(control("GET", "log")))
    }

    /// Every file and folder of the libraries.
    func items() throws -> [Item] {
        try JSONDecoder().decode([Item].self, from: Data(control("GET", "items")))
    }

    /// How many upload sessions are open.
    func openSessions() throws -> Int {
        let sessions = try JSONSerialization.jsonObject(with: Data(control("GET", "sessions"))) as? [Any]
        return sessions?.count ?? -1
    }

    private func control(_ method: String, _ action: String, body: Data? = nil) throws -> [UInt8] {
        try PerTestServer.control(baseURL, caFile: caFile, method, action, body: body, name: "Graph")
    }
}
