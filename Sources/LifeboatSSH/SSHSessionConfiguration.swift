/// Where and how an ``SSHSession`` connects.
public struct SSHSessionConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var authentication: SSHAuthentication
    /// The OpenSSH-format known_hosts file the server's key must be listed in. Keys are never
    /// added to it: an unknown or changed key refuses the connection.
    public var knownHostsFile: String
    /// Seconds to wait for the TCP connection and the SSH handshake.
    public var connectTimeout: Double
    /// Ciphers to offer, most preferred first (e.g. `aes128-gcm@openssh.com`); nil keeps libssh's
    /// defaults.
    public var ciphers: [String]?

    public init(
        host: String, port: Int = 22, username: String, authentication: SSHAuthentication, knownHostsFile: String,
        connectTimeout: Double = 30, ciphers: [String]? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.authentication = authentication
        self.knownHostsFile = knownHostsFile
        self.connectTimeout = connectTimeout
        self.ciphers = ciphers
    }

    /// `host:port`, with brackets around an IPv6 address, as SSH and known_hosts write it.
    public var hostAndPort: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// `user@host:port`, for messages; never holds a secret.
    public var description: String { "\(username)@\(hostAndPort)" }
}
