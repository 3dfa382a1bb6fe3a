/// Someone a file is encrypted to: an X25519 public key, or a passphrase.
public enum AgeRecipient: Sendable {
    /// An `age1…` public key.
    case x25519(AgeX25519Recipient)
    /// A passphrase stretched with scrypt at N = 2^workFactor (callers use 18, like age). A file
    /// with an scrypt recipient can have no other recipient.
    case scrypt(passphrase: String, workFactor: Int)
}
