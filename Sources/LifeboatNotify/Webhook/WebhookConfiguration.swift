import Foundation
import LifeboatCore

/// Where and how a ``WebhookNotifier`` posts notifications (a contact's `webhook:` block).
public struct WebhookConfiguration: Sendable, CustomStringConvertible {
    /// `url`: where the JSON is posted. `https://` unless `allow_insecure` is set. Messages name only
    /// its host and port, never its path or query, which often carry a token (chat-service hooks).
    public var url: URL
    /// `secret`: the key of the `X-Lifeboat-Signature` HMAC-SHA256, shared with the receiver.
    public var secret: Secret
    /// `ca_file`: certificate authorities to trust for the receiver's certificate, instead of the system's.
    public var caFile: String?
    /// `allow_insecure`: accept a plain `http://` URL (local receivers, tests).
    public var allowInsecure: Bool
    /// `timeout`: seconds a request may go without the receiver sending anything before it is
    /// abandoned as a timeout (a transient failure).
    public var timeout: Double
    /// `connect_timeout`: seconds to set up the connection (TCP and TLS).
    public var connectTimeout: Double
    /// `headers`: extra request headers, e.g. an `Authorization` the receiver wants, sent in name
    /// order. Values are never printed. The headers Lifeboat sets itself cannot be replaced.
    public var headers: [String: String]

    /// Headers the notifier sets itself (lower case).
    public static let reservedHeaders: Set<String> = [
        "content-type", "content-length", "transfer-encoding", "host", "user-agent", "expect", "connection",
        "x-lifeboat-signature", "idempotency-key",
    ]

    public init(
        url: URL, secret: Secret, caFile: String? = nil, allowInsecure: Bool = false, timeout: Double = 30,
        connectTimeout: Double = 10, headers: [String: String] = [:]
    ) {
        self.url = url
        self.secret = secret
        self.caFile = caFile
        self.allowInsecure = allowInsecure
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.headers = headers
    }

    /// `webhook hooks.example.com:8443`: never the path, the secret or header values.
    public var description: String { "webhook \(endpointDescription)" }

    /// `host` or `host:port` of the URL, as messages name the receiver.
    public var endpointDescription: String {
        let host = url.host ?? "?"
        let bracketed = host.contains(":") ? "[\(host)]" : host
        if let port = url.port { return "\(bracketed):\(port)" }
        return bracketed
    }

    /// What is wrong with the settings, or nil.
    public var problem: String? {
        guard let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http" else {
            return "url must be an https:// URL"
        }
        guard let host = url.host, !host.isEmpty else { return "url must name a host" }
        if scheme == "http" && !allowInsecure {
            return "url http://\(endpointDescription)/… is plain http: the notification and its signature would "
                + "cross the network in clear text; use https, or set allow_insecure: true (local receivers, tests)"
        }
        if url.user != nil || url.password != nil {
            return "url must not hold a user name or password; put credentials in headers (e.g. Authorization)"
        }
        if secret.reveal().isEmpty {
            return "secret is empty: the receiver could not tell Lifeboat's notifications from anyone else's"
        }
        if !(timeout > 0) || !(connectTimeout > 0) { return "timeout and connect_timeout must be positive" }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            return "ca_file \(caFile) is not a readable file"
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenCharacter) else {
                return
                    "headers: '\(Self.printable(name))' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
            }
            if Self.reservedHeaders.contains(name.lowercased()) {
                return "headers: \(name) is set by Lifeboat itself and cannot be replaced"
            }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
                return "headers: the value of \(name) contains a line break or NUL"
            }
        }
        return nil
    }

    /// RFC 9110 `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }
}
