import Foundation
import LifeboatCurl

#if canImport(Glibc)
    import Glibc
#endif

/// A webhook receiver (`packaging/test-servers/webhook_server.py`) of one test, over TLS with its own
/// test CA (or plain http), that verifies `X-Lifeboat-Signature` with Python's `hmac` on its own,
/// records every request and answers faults on demand.
final class WebhookTestServer {
    static let secret = "whsec_lifeboat-test-5b0c7e9d2f"

    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    let baseURL: String
    /// The hook: `baseURL + "/hooks/pbx?token=t0ken-in-the-query"`.
    let url: URL
    /// The test CA that signed the server's certificate.
    let caFile: String
    private let process: ChannelTestProcess

    /// One request as the receiver saw it.
    struct Request: Decodable {
        var seq: Int
        var method: String
        var path: String
        var headers: [[String]]
        var body: String?
        var bodyHex: String?
        var signature: String?
        var signatureValid: Bool
        var expectedSignature: String?
        var idempotencyKey: String?
        var status: Int?

        enum CodingKeys: String, CodingKey {
            case seq, method, path, headers, body, signature, status
            case bodyHex = "body_hex"
            case signatureValid = "signature_valid"
            case expectedSignature = "expected_signature"
            case idempotencyKey = "idempotency_key"
        }

        /// Every value of header `name` (any case), in the order received.
        func headers(_ name: String) -> [String] {
            headers.filter { $0.count == 2 && $0[0].lowercased() == name.lowercased() }.map { $0[1] }
        }

        func header(_ name: String) -> String? { headers(name).first }

        /// The body bytes exactly as received.
        var bodyBytes: [UInt8] {
            guard let hex = bodyHex else { return [] }
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
    }


    init(tls: Bool = true) throws {
        let materials = try Self.materials.get()
        caFile = materials.caFile
        process = try ChannelTestProcess(name: "webhook", script: "webhook_server.py") { directory in
            let secretFile = directory + "/secret"
            try Self.secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
            var arguments = ["--secret-file", secretFile]
            if tls { arguments += ["--tls-cert", materials.serverCertificate, "--tls-key", materials.serverKey] }
            return arguments
        }
        baseURL = "\(tls ? "https" : "http")://127.0.0.1:\(process.port)"
        url = URL(string: baseURL + "/hooks/pbx?token=t0ken-in-the-query")!
    }

    // MARK: Control

    /// Queues fault rules: `["status": 503, "times": 2, "retry_after": "7", "body": "…", "delay": 3]`.
    func addFaults(_ rules: [[String: Any]]) throws {
        _ = try control("POST", "faults", body: try JSONSerialization.data(withJSONObject: rules))
    }

    /// Every request to the hook so far.
    func log() throws -> [Request] {
        try JSONDecoder().decode([Request].self, from: Data(control("GET", "log")))
    }

    private func control(_ method: String, _ action: String, body: Data? = nil) throws -> [UInt8] {
        try PerTestServer.control(baseURL, caFile: caFile, method, action, body: body, name: "webhook", output: process.output)
    }

    // MARK: Certificates

    /// Made once per test process, in a private folder removed when the process exits.
    static let materials: Result<PerTestServer.TLSMaterials, any Error> = Result {
        let materials = try PerTestServer.makeTLSMaterials("webhook-tls", caName: "Lifeboat webhook test CA")
        atexit {
            if case .success(let materials) = WebhookTestServer.materials {
                try? FileManager.default.removeItem(atPath: materials.folder)
            }
        }
        return materials
    }
}
