import Foundation
import LifeboatCurl

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

    /// A test CA, a server certificate and key for 127.0.0.1 and localhost signed by it, and a second
    /// CA that signed nothing, made with `openssl` in a new private folder (the caller removes it).
    struct TLSMaterials {
        var folder: String
        var caFile: String
        var serverCertificate: String
        var serverKey: String
        var strangerCAFile: String
    }

    static func makeTLSMaterials(_ prefix: String, caName: String) throws -> TLSMaterials {
        let folder = try privateFolder(prefix)
        func openssl(_ arguments: [String]) throws { try PerTestServer.openssl(arguments, in: folder) }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for (name, subject) in [("ca", caName), ("stranger-ca", "Some other CA")] {
            try openssl(
                ["req", "-x509"] + ec + [
                    "-days", "2", "-subj", "/CN=\(subject)", "-keyout", "\(name)-key.pem", "-out", "\(name).pem",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ])
        }
        try openssl(
            ["req", "-new"] + ec + ["-subj", "/CN=localhost", "-keyout", "server-key.pem", "-out", "server.csr"])
        try [
            "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ].joined(separator: "\n").write(toFile: folder + "/server.ext", atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.pem",
        ])
        for key in ["ca-key.pem", "stranger-ca-key.pem", "server-key.pem"] {
            chmod(folder + "/" + key, 0o600)
        }
        return TLSMaterials(
            folder: folder, caFile: folder + "/ca.pem", serverCertificate: folder + "/server.pem",
            serverKey: folder + "/server-key.pem", strangerCAFile: folder + "/stranger-ca.pem")
    }

    /// A request to a test server's `/__control/ACTION` endpoint (faults, logs, state), through
    /// libcurl and the test CA; an answer other than 2xx throws with the server's words and `output`.
    static func control(
        _ baseURL: String, caFile: String?, _ method: String, _ action: String, body: Data? = nil, name: String,
        output: @autoclosure () -> String = ""
    ) throws -> [UInt8] {
        var transfer = CurlTransfer(url: "\(baseURL)/__control/\(action)")
        transfer.method = method
        transfer.caFile = caFile
        transfer.headers = ["Expect:"]
        if let body {
            transfer.body = .bytes(Array(body))
            transfer.headers.append("Content-Type: application/json")
        }
        transfer.responseLimit = 64 << 20
        let response = try CurlHandle().perform(transfer)
        guard (200..<300).contains(response.status) else {
            throw Failure(
                description: "\(name) test server answered \(response.status) to \(method) \(action): "
                    + String(decoding: response.body, as: UTF8.self) + output())
        }
        return response.body
    }
}
