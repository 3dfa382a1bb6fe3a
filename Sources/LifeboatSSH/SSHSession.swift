import CSSH
import LifeboatCore

#if canImport(Glibc)
    import Glibc
#endif

/// An authenticated SSH connection (a libssh `ssh_session`), freed when the object goes away.
///
/// `init` connects within the configured timeout, checks the server's host key against the
/// configured known_hosts file (an unknown or changed key is refused, never added) and logs in
/// with a password or a private key. Calls block. A session is used from one thread at a time,
/// so the type is deliberately not `Sendable`: owners that share it across threads serialise
/// access themselves.
///
/// There is no explicit disconnect: `ssh_disconnect` frees the session's channels, which the
/// ``SFTPClient`` on top still points to. The connection closes when the last client and file
/// using it are released.
public final class SSHSession {
    /// The libssh handle; owned, freed in deinit.
    let handle: OpaquePointer
    public let configuration: SSHSessionConfiguration
    /// The host key the server presented, once the handshake is done.
    public private(set) var hostKey: SSHHostKey?

    /// Connects, verifies the host key and authenticates.
    public init(configuration: SSHSessionConfiguration) throws {
        guard let handle = ssh_new() else {
            throw SSHError(.failure, "cannot create an SSH session (out of memory)")
        }
        self.handle = handle
        self.configuration = configuration
        try setOptions()
        try connect()
        detectDeadConnections()
        try verifyHostKey()
        try authenticate()
    }

    deinit {
        if ssh_is_connected(handle) != 0 { ssh_disconnect(handle) }
        ssh_free(handle)
    }

    /// Whether the connection is still up, as far as libssh knows.
    public var isConnected: Bool { ssh_is_connected(handle) != 0 }

    /// The local TCP port of the connection, to match it with the server's log (`Connection from
    /// 127.0.0.1 port N`); nil when not connected.
    public var localPort: Int? {
        let fd = ssh_get_fd(handle)
        guard fd >= 0 else { return nil }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        switch Int32(address.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
        default:
            return nil
        }
    }

    /// The cipher libssh negotiated for data sent to the server (e.g. `aes256-gcm@openssh.com`).
    public var cipherOut: String? { ssh_get_cipher_out(handle).map { String(cString: $0) } }

    /// libssh's text for the last failure on this session.
    var lastError: String {
        String(cString: ssh_get_error(UnsafeMutableRawPointer(handle)))
    }

    // MARK: Steps of init

    private func setOptions() throws {
        let c = configuration
        // libssh would fall back to ~/.ssh/known_hosts.
        guard !c.knownHostsFile.isEmpty else {
            throw SSHError(.hostKeyUnknown, "no known_hosts file is configured for \(c.hostAndPort)")
        }
        var ok = lb_ssh_set_string(handle, SSH_OPTIONS_HOST, c.host) == SSH_OK
        ok = ok && lb_ssh_set_int(handle, SSH_OPTIONS_PORT, Int32(c.port)) == SSH_OK
        ok = ok && lb_ssh_set_string(handle, SSH_OPTIONS_USER, c.username) == SSH_OK
        // ~/.ssh/config and /etc/ssh/ssh_config must not change what the configuration says.
        ok = ok && lb_ssh_set_bool(handle, SSH_OPTIONS_PROCESS_CONFIG, false) == SSH_OK
        // Only the configured file decides which host keys are trusted (the global one defaults
        // to /etc/ssh/ssh_known_hosts).
        ok = ok && lb_ssh_set_string(handle, SSH_OPTIONS_KNOWNHOSTS, c.knownHostsFile) == SSH_OK
        ok = ok && lb_ssh_set_string(handle, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, c.knownHostsFile) == SSH_OK
        let timeout = max(c.connectTimeout, 0.001)
        ok = ok && lb_ssh_set_long(handle, SSH_OPTIONS_TIMEOUT, Int(timeout.rounded(.down))) == SSH_OK
        let micros = Int((timeout - timeout.rounded(.down)) * 1_000_000)
        ok = ok && lb_ssh_set_long(handle, SSH_OPTIONS_TIMEOUT_USEC, micros) == SSH_OK
        // Nagle's algorithm holds back the small SFTP requests that follow each write: with it on,
        // uploads ran at 2 MB/s instead of 120+ MB/s.
        ok = ok && lb_ssh_set_int(handle, SSH_OPTIONS_NODELAY, 1) == SSH_OK
        // Archives are compressed and encrypted already.
        ok = ok && lb_ssh_set_string(handle, SSH_OPTIONS_COMPRESSION, "no") == SSH_OK
        if let ciphers = c.ciphers, !ciphers.isEmpty {
            let list = ciphers.joined(separator: ",")
            ok = ok && lb_ssh_set_string(handle, SSH_OPTIONS_CIPHERS_C_S, list) == SSH_OK
            ok = ok && lb_ssh_set_string(handle, SSH_OPTIONS_CIPHERS_S_C, list) == SSH_OK
        }
        guard ok else {
            throw SSHError(.failure, "invalid SSH settings for \(configuration): \(lastError)")
        }
    }

    private func connect() throws {
        guard ssh_connect(handle) == SSH_OK else {
            throw SSHError(.connection, "cannot connect to \(configuration.hostAndPort): \(lastError)")
        }
    }

    /// Lets the kernel break the connection when the server stops answering at the TCP level (a
    /// network outage, a server that lost power): libssh 0.10 waits for SFTP replies without a
    /// timeout, so without this an upload to a vanished server would hang forever. Keepalive
    /// probes start after 30 s of silence (3 probes, 10 s apart), and sent data unacknowledged for
    /// 60 s aborts the connection. A server that is merely slow to reply still acknowledges at the
    /// TCP level and is not affected.
    private func detectDeadConnections() {
        let fd = ssh_get_fd(handle)
        guard fd >= 0 else { return }
        func set(_ level: Int32, _ option: Int32, _ value: Int32) {
            var value = value
            _ = setsockopt(fd, level, option, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        set(SOL_SOCKET, SO_KEEPALIVE, 1)
        set(Int32(IPPROTO_TCP), TCP_KEEPIDLE, 30)
        set(Int32(IPPROTO_TCP), TCP_KEEPINTVL, 10)
        set(Int32(IPPROTO_TCP), TCP_KEEPCNT, 3)
        set(Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, 60_000)
    }

    private func verifyHostKey() throws {
        var key: ssh_key?
        guard ssh_get_server_publickey(handle, &key) == SSH_OK, let key else {
            throw SSHError(.connection, "\(configuration.hostAndPort) sent no host key: \(lastError)")
        }
        defer { ssh_key_free(key) }
        let offered = try Self.describe(key)
        hostKey = offered
        let hostAndPort = configuration.hostAndPort
        let file = configuration.knownHostsFile
        // A missing known_hosts file is reported as UNKNOWN by libssh 0.10, not NOT_FOUND.
        let state = ssh_session_is_known_server(handle)
        switch state {
        case SSH_KNOWN_HOSTS_OK:
            return
        case SSH_KNOWN_HOSTS_CHANGED, SSH_KNOWN_HOSTS_OTHER:
            throw SSHError(
                .hostKeyChanged,
                "the host key of \(hostAndPort) does not match \(file): the server offered the \(offered), and the "
                    + "file lists another key for this host. Refused: either the server was reinstalled or "
                    + "someone is intercepting the connection; confirm the fingerprint with the server's "
                    + "administrator before replacing the line", offeredHostKey: offered)
        case SSH_KNOWN_HOSTS_UNKNOWN, SSH_KNOWN_HOSTS_NOT_FOUND:
            throw SSHError(
                .hostKeyUnknown,
                "the host key of \(hostAndPort) is not in \(file): the server offered the \(offered). Refused: "
                    + "confirm the fingerprint on the server (ssh-keygen -lf on its public host key), then add "
                    + "the key to \(file) (e.g. from ssh-keyscan -p \(configuration.port) \(configuration.host))",
                offeredHostKey: offered)
        default:
            throw SSHError(
                .hostKeyUnknown,
                "cannot check the host key of \(hostAndPort) (the \(offered)) against \(file): \(lastError)",
                offeredHostKey: offered)
        }
    }

    /// The type and OpenSSH-style SHA-256 fingerprint of a public key.
    private static func describe(_ key: ssh_key) throws -> SSHHostKey {
        let type = ssh_key_type_to_char(ssh_key_type(key)).map { String(cString: $0) } ?? "unknown"
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == SSH_OK, hash != nil else {
            throw SSHError(.failure, "cannot compute the fingerprint of the server's \(type) host key")
        }
        defer { ssh_clean_pubkey_hash(&hash) }
        guard let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) else {
            throw SSHError(.failure, "cannot format the fingerprint of the server's \(type) host key")
        }
        defer { ssh_string_free_char(text) }
        return SSHHostKey(type: type, fingerprint: String(cString: text))
    }

    private func authenticate() throws {
        let who = "'\(configuration.username)' on \(configuration.hostAndPort)"
        let result: Int32
        let method: String
        switch configuration.authentication {
        case .password(let password):
            method = "password"
            result = ssh_userauth_password(handle, nil, password.reveal())
        case .privateKey(let path, let passphrase):
            method = "private key \(path)"
            let key = try Self.loadPrivateKey(path: path, passphrase: passphrase)
            defer { ssh_key_free(key) }
            result = ssh_userauth_publickey(handle, nil, key)
        }
        switch result {
        case SSH_AUTH_SUCCESS.rawValue:
            return
        case SSH_AUTH_DENIED.rawValue:
            throw SSHError(.authentication, "the server refused the login of \(who) with the \(method)")
        case SSH_AUTH_PARTIAL.rawValue:
            throw SSHError(
                .authentication,
                "the server accepted the \(method) of \(who) but asks for a second factor, which is not supported")
        default:
            let kind: SSHError.Kind = isConnected ? .authentication : .connection
            throw SSHError(kind, "the login of \(who) with the \(method) failed: \(lastError)")
        }
    }

    /// Reads a private key file, decrypting it with the passphrase when given.
    private static func loadPrivateKey(path: String, passphrase: Secret?) throws -> ssh_key {
        var key: ssh_key?
        let rc = ssh_pki_import_privkey_file(path, passphrase?.reveal(), nil, nil, &key)
        if rc == SSH_OK, let key { return key }
        if access(path, R_OK) != 0 {
            throw SSHError(
                .authentication, "cannot read the private key file \(path): \(String(cString: strerror(errno)))")
        }
        let hint =
            passphrase == nil
            ? "it is not a private key in OpenSSH or PEM format, or it is encrypted and no passphrase is configured"
            : "the passphrase is wrong, or it is not a private key in OpenSSH or PEM format"
        throw SSHError(.authentication, "cannot load the private key \(path): \(hint)")
    }
}
