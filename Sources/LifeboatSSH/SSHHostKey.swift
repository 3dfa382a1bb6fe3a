/// A server's public host key, as shown to people: its type and its SHA-256 fingerprint in
/// OpenSSH's form (`SHA256:` and unpadded base64), so it can be compared with
/// `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server.
public struct SSHHostKey: Hashable, Sendable, CustomStringConvertible {
    /// The key type as SSH names it, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`.
    public var type: String
    /// `SHA256:…`, unpadded base64 as OpenSSH prints it.
    public var fingerprint: String

    public init(type: String, fingerprint: String) {
        self.type = type
        self.fingerprint = fingerprint
    }

    public var description: String { "\(type) key \(fingerprint)" }
}
