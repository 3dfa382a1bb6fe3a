import LifeboatCore

/// Where and how email notifications are sent (the configuration's `notifications.smtp` block).
///
/// Every value is checked by the initialiser, and the properties cannot be changed afterwards, so a
/// configuration that exists is one that ``SMTPNotifier`` may use.
public struct SMTPConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is protected.
    public enum Security: String, Sendable, Hashable, CaseIterable {
        /// `starttls`: connect in plain text and upgrade with STARTTLS before anything else is sent;
        /// a server that does not offer STARTTLS is refused (never opportunistic). Port 587 by default.
        case starttls
        /// `tls`: implicit TLS from the first byte (SMTPS). Port 465 by default.
        case tls
        /// `none`: plain text, password and all. Only with `allow_insecure: true`. Port 25 by default.
        case none

        /// The usual port for this kind of connection.
        public var defaultPort: Int {
            switch self {
            case .starttls: 587
            case .tls: 465
            case .none: 25
            }
        }
    }

    /// `host`: the server's name or IP address.
    public let host: String
    /// `port`: 587 for `starttls`, 465 for `tls`, 25 for `none` unless given.
    public let port: Int
    /// `security`: `starttls` (the default), `tls` or `none`.
    public let security: Security
    /// `username`: the login; no login (AUTH) when nil.
    public let username: String?
    /// `password`: the login's password (`{secret_file: …}` or `{secret_env: …}` in the file).
    public let password: Secret?
    /// `from`: the sender, `pbx@example.com` or `PBX <pbx@example.com>`; the envelope sender (MAIL
    /// FROM) is its address.
    public let from: EmailAddress
    /// `ca_file`: certificate authorities (PEM) to trust for the server's certificate instead of the
    /// system's.
    public let caFile: String?
    /// `allow_insecure`: permit `security: none`.
    public let allowInsecure: Bool
    /// `timeout`: seconds to connect, and seconds the server may go without answering before the
    /// attempt is abandoned (a transient failure).
    public let timeout: Double

    /// Checks the settings; throws a permanent ``DeliveryError`` naming the key that is wrong.
    public init(
        host: String, port: Int? = nil, security: Security = .starttls, username: String? = nil,
        password: Secret? = nil, from: EmailAddress, caFile: String? = nil, allowInsecure: Bool = false,
        timeout: Double = 30
    ) throws(DeliveryError) {
        func refuse(_ message: String) -> DeliveryError {
            DeliveryError(.permanent, "notifications.smtp: \(message)")
        }
        let hostBytes = Array(host.utf8)
        guard !hostBytes.isEmpty, hostBytes.count <= 253,
            hostBytes.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || [UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":")].contains(byte)
            })
        else {
            throw refuse(
                "host must be a host name or an IP address (letters, digits, '.', '-', ':'), "
                    + "not \(EmailError.quoted(host))")
        }
        let port = port ?? security.defaultPort
        guard (1...65535).contains(port) else { throw refuse("port must be between 1 and 65535, not \(port)") }
        if let username {
            guard !username.isEmpty,
                !username.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw refuse("username must be a non-empty single line of text")
            }
            guard password != nil else { throw refuse("username \(username) is set but password is not") }
        } else if password != nil {
            throw refuse("password is set but username is not")
        }
        if security == .none && !allowInsecure {
            throw refuse(
                "security: none sends the password and every notification in clear text; use security: starttls "
                    + "(usually port 587) or tls (usually port 465), or set allow_insecure: true")
        }
        if let caFile, caFile.isEmpty { throw refuse("ca_file must not be empty") }
        guard timeout > 0, timeout <= 3600 else {
            throw refuse("timeout must be between 0 and 3600 seconds, not \(timeout)")
        }
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.caFile = caFile
        self.allowInsecure = allowInsecure
        self.timeout = timeout
    }

    /// `host:port` (`[v6]:port`), as messages name the server.
    public var serverDescription: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// The URL libcurl connects to: `smtps://` for implicit TLS, else `smtp://`.
    var url: String {
        (security == .tls ? "smtps://" : "smtp://") + serverDescription
    }

    /// `smtp mail.example.com:587 (starttls, login pbx)`: never the password.
    public var description: String {
        "smtp \(serverDescription) (\(security.rawValue)" + (username.map { ", login \($0)" } ?? "") + ")"
    }
}
