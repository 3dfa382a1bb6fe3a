import LifeboatCore
import LifeboatSSH

/// Where and how an ``SFTPStore`` connects.
public struct SFTPStoreConfiguration: Sendable {
    /// How the store logs in.
    public enum Authentication: Sendable {
        /// The account's password.
        case password(Secret)
        /// A private key file (ed25519, RSA or ECDSA, OpenSSH or PEM format); `passphrase` unlocks an
        /// encrypted key.
        case privateKey(path: String, passphrase: Secret?)
    }

    public var host: String
    /// 22 unless the server listens elsewhere.
    public var port: Int
    public var username: String
    /// The folder that holds the store, `/`-separated: relative paths start at the login's
    /// folder, absolute ones at the server's root; empty for the login's folder itself. Created
    /// (with its parents) on the first upload.
    public var path: String
    public var authentication: Authentication
    /// An OpenSSH known_hosts file that must list the server's host key. Keys are never added
    /// automatically: an unknown or changed key refuses the connection, and the error shows the
    /// fingerprint the server offered.
    public var knownHostsFile: String
    /// Seconds to wait for the connection and the SSH handshake.
    public var connectTimeout: Double
    /// Ciphers to offer, most preferred first; nil keeps libssh's defaults.
    public var ciphers: [String]?

    public init(
        host: String, port: Int = 22, username: String, path: String = "", authentication: Authentication,
        knownHostsFile: String, connectTimeout: Double = 30, ciphers: [String]? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        // Keep a leading `/` (absolute), drop empty and trailing parts.
        let parts = path.split(separator: "/").joined(separator: "/")
        self.path = path.hasPrefix("/") ? "/" + parts : parts
        self.authentication = authentication
        self.knownHostsFile = knownHostsFile
        self.connectTimeout = connectTimeout
        self.ciphers = ciphers
    }

    /// `user@host:port`, for messages; never holds a secret.
    public var displayName: String {
        "\(username)@\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// The settings of one SSH connection.
    var sessionConfiguration: SSHSessionConfiguration {
        let auth: SSHAuthentication
        switch authentication {
        case .password(let secret): auth = .password(secret)
        case .privateKey(let path, let passphrase): auth = .privateKey(path: path, passphrase: passphrase)
        }
        return SSHSessionConfiguration(
            host: host, port: port, username: username, authentication: auth, knownHostsFile: knownHostsFile,
            connectTimeout: connectTimeout, ciphers: ciphers)
    }
}
