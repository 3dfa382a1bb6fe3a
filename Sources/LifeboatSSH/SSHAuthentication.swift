import LifeboatCore

/// How an ``SSHSession`` proves who it is.
public enum SSHAuthentication: Sendable, CustomStringConvertible {
    /// The account's password (SSH "password" authentication).
    case password(Secret)
    /// A private key file in OpenSSH or PEM format (ed25519, RSA, ECDSA); `passphrase` unlocks an
    /// encrypted key.
    case privateKey(path: String, passphrase: Secret?)

    /// Names the method and the key file, never the secret.
    public var description: String {
        switch self {
        case .password: return "password"
        case .privateKey(let path, let passphrase):
            return "private key \(path)" + (passphrase == nil ? "" : " (with passphrase)")
        }
    }
}
