/// An age X25519 identity (secret key), `AGE-SECRET-KEY-1…`.
///
/// Its description is `<redacted>`, so it never reaches a log or an error message.
public struct AgeX25519Identity: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    static let hrp = "AGE-SECRET-KEY-"

    /// The 32 secret bytes.
    let secretKey: [UInt8]

    /// The matching recipient (public key).
    public let recipient: AgeX25519Recipient

    init(secretKey: [UInt8]) throws {
        precondition(secretKey.count == 32)
        self.secretKey = secretKey
        self.recipient = try AgeX25519Recipient(publicKey: X25519.publicKey(privateKey: secretKey))
    }

    /// A new identity from 32 bytes of OpenSSL's CSPRNG.
    public static func generate() throws -> AgeX25519Identity {
        try AgeX25519Identity(secretKey: SecureRandom.bytes(32))
    }

    /// Parses `AGE-SECRET-KEY-1…` (Bech32, upper case, checksum verified).
    ///
    /// Throws `AgeError` with code `.invalidKey`; the message never repeats the text.
    public init(parsing text: String) throws {
        guard let (hrp, data) = Bech32.decode(text) else {
            throw AgeError(
                .invalidKey,
                "not a valid age identity: expected AGE-SECRET-KEY-1… in one case with a valid Bech32 checksum")
        }
        guard hrp == Self.hrp else {
            if hrp.uppercased() == Self.hrp {
                throw AgeError(.invalidKey, "not a valid age identity: AGE-SECRET-KEY-1… must be upper case")
            }
            throw AgeError(.invalidKey, "not an age X25519 identity: it should start with AGE-SECRET-KEY-1")
        }
        guard data.count == 32 else {
            throw AgeError(.invalidKey, "not a valid age identity: the key is \(data.count) bytes instead of 32")
        }
        try self.init(secretKey: data)
    }

    /// The identity as age-keygen writes it: `AGE-SECRET-KEY-1…` in upper case.
    public var encoded: String { Bech32.encode(hrp: Self.hrp, data: secretKey).uppercased() }

    public var description: String { "AgeX25519Identity(<redacted>, recipient: \(recipient.encoded))" }
    public var debugDescription: String { description }

    /// Unwraps the file key from an `X25519` stanza: nil if the stanza is for another type or
    /// another key; throws `.headerInvalid` if it is a malformed X25519 stanza.
    func unwrap(_ stanza: AgeStanza) throws -> [UInt8]? {
        guard stanza.arguments.first == "X25519" else { return nil }
        guard stanza.arguments.count == 2 else {
            throw AgeError(.headerInvalid, "the X25519 stanza has \(stanza.arguments.count - 1) arguments instead of 1")
        }
        guard let share = Base64Unpadded.decode(stanza.arguments[1]), share.count == 32 else {
            throw AgeError(.headerInvalid, "the X25519 stanza's ephemeral share is not canonical base64 of 32 bytes")
        }
        guard stanza.body.count == 32 else {
            throw AgeError(.headerInvalid, "the X25519 stanza's body is \(stanza.body.count) bytes instead of 32")
        }
        guard let shared = try X25519.sharedSecret(privateKey: secretKey, publicKey: share) else {
            throw AgeError(
                .headerInvalid, "the X25519 stanza's ephemeral share is a low-order point (all-zero shared secret)")
        }
        let wrapKey = try HKDFSHA256.derive(
            secret: shared, salt: share + recipient.publicKey, info: Array("age-encryption.org/v1/X25519".utf8),
            count: 32)
        return try ChaCha20Poly1305.open(key: wrapKey, nonce: [UInt8](repeating: 0, count: 12), ciphertext: stanza.body)
    }
}
