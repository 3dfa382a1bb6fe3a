import LifeboatCore

/// Where and how an ``FTPStore`` connects.
public struct FTPStoreConfiguration: Sendable {
    /// How the connection is protected.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// `AUTH TLS` on the normal port, required for control and data (FTPS, explicit).
        case explicit
        /// TLS from the first byte, usually on port 990 (FTPS, implicit).
        case implicit
        /// Plain FTP: credentials and archives cross the network in clear text.
        case none
    }

    public var host: String
    public var port: Int
    /// The folder that holds the store, relative to the login's folder, `/`-separated; empty for
    /// the login folder itself.
    public var path: String
    public var tls: TLSMode
    public var username: String
    public var password: Secret
    /// Certificate authorities to trust for the server's certificate, instead of the system's.
    public var caFile: String?
    public var connectTimeout: Double
    /// A transfer that moves no byte for this long is abandoned as stalled.
    public var stallTimeout: Double
    /// Ask the server for the SHA-256 of each upload (`HASH`/`XSHA256`) when it offers one. The
    /// server reads the whole file again for it (about 1.7 s per GiB on the test machine).
    public var serverHash: Bool
    /// Allow TLS 1.3. Off by default: vsftpd 3.0 over TLS 1.3 loses the end of uploads (its data
    /// connection is reset while it still reads: "426 Failure reading network stream", the file cut
    /// short), seen here in about one upload of 30; TLS 1.2 does not show it.
    public var tls13: Bool

    public init(
        host: String, port: Int? = nil, path: String = "", tls: TLSMode = .explicit, username: String,
        password: Secret, caFile: String? = nil, connectTimeout: Double = 30, stallTimeout: Double = 60,
        serverHash: Bool = true, tls13: Bool = false
    ) {
        self.host = host
        self.port = port ?? (tls == .implicit ? 990 : 21)
        self.path = path.split(separator: "/").joined(separator: "/")
        self.tls = tls
        self.username = username
        self.password = password
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.serverHash = serverHash
        self.tls13 = tls13
    }

    /// `ftp://host:port/` or `ftps://…`: the login folder (never with credentials).
    public var serverURL: String {
        let scheme = tls == .implicit ? "ftps" : "ftp"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)/"
    }

    /// `ftp://host:port/path`, for messages.
    public var displayURL: String { serverURL + path }
}
