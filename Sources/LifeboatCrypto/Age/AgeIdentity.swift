/// Something that can open a file: an X25519 secret key, or a passphrase.
public enum AgeIdentity: Sendable {
    /// An `AGE-SECRET-KEY-1…` secret key.
    case x25519(AgeX25519Identity)
    /// A passphrase; files whose scrypt work factor is above `maxWorkFactor` (callers pass 22)
    /// are refused before any scrypt work is done.
    case scrypt(passphrase: String, maxWorkFactor: Int)
}
