import Foundation
import LifeboatCurl

/// The control API of `packaging/test-servers/fault_proxy.py`, the HTTP proxy the test servers put
/// in front of SeaweedFS (S3) and gcp-storage-emulator (GCS) to inject failures and record what
/// reached the server.
///
/// Tests run in parallel and share the proxy, so a proxy value is scoped: the rules it adds only
/// match request paths that contain `scope` (a test's unique object prefix), and ``log()`` returns
/// only those requests.
struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    let endpoint: String
    /// A text every request path of the test contains (its unique prefix); empty for no scoping.
    var scope = ""

    /// One request as the proxy saw it.
    struct LoggedRequest: Decodable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var bodyBytes: Int
        var status: Int?
        var fault: String?

        enum CodingKeys: String, CodingKey {
            case method, path, query, headers, status, fault
            case bodyBytes = "body_bytes"
        }
    }

    struct ControlFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Appends fault rules (see the script for their shape), e.g.
    /// `["method": "PUT", "query": "partNumber=2", "times": 2, "status": 503]`; each is limited to
    /// paths containing `scope`.
    func add(_ rules: [[String: Any]]) throws {
        let scoped = rules.map { rule in
            var rule = rule
            if !scope.isEmpty { rule["path"] = scopePattern }
            return rule
        }
        let body = try JSONSerialization.data(withJSONObject: scoped)
        _ = try control("POST", "faults", body: String(decoding: body, as: UTF8.self))
    }

    /// Removes the rules of this scope that have not fired yet.
    func clear() throws {
        let body = try JSONSerialization.data(withJSONObject: ["path": scopePattern])
        _ = try control("POST", "clear", body: String(decoding: body, as: UTF8.self))
    }

    private var scopePattern: String { NSRegularExpression.escapedPattern(for: URIPath.encode(scope)) }

    /// Every proxied request of this scope.
    func log() throws -> [LoggedRequest] {
        let all = try JSONDecoder().decode([LoggedRequest].self, from: Data(control("GET", "log", body: nil)))
        let encoded = URIPath.encode(scope)
        return all.filter { scope.isEmpty || $0.path.contains(encoded) || $0.query.contains(encoded) }
    }

    /// Sets the lifetime of tokens the GCS front issues from now on.
    func setTokenLifetime(_ seconds: Int) throws {
        _ = try control("POST", "token-lifetime", body: "{\"seconds\": \(seconds)}")
    }

    private func control(_ method: String, _ path: String, body: String?) throws -> [UInt8] {
        var transfer = CurlTransfer(url: "\(endpoint)/__lifeboat/\(path)")
        transfer.method = method
        if let body {
            transfer.body = .bytes(Array(body.utf8))
            transfer.headers = ["Content-Type: application/json"]
        }
        let response = try CurlHandle().perform(transfer)
        guard (200..<300).contains(response.status) else {
            throw ControlFailure(
                description: "fault proxy \(endpoint) answered \(response.status) to \(method) \(path): "
                    + String(decoding: response.body, as: UTF8.self))
        }
        return response.body
    }
}

/// Percent-encoding of a prefix as it appears in request paths (unreserved characters and `/` stay).
enum URIPath {
    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
