/// An age X25519 recipient (public key), `age1…`.
public struct AgeX25519Recipient: Sendable, Hashable, CustomStringConvertible {
    static let hrp = "age"

    /// The 32 public-key bytes.
    let publicKey: [UInt8]

    init(publicKey: [UInt8]) {
        precondition(publicKey.count == 32)
        self.publicKey = publicKey
    }

    /// Parses `age1…` (Bech32, lower case, checksum verified). Throws `AgeError(.invalidKey)`.
    public init(parsing text: String) throws {
        guard let (hrp, data) = Bech32.decode(text) else {
            throw AgeError(
                .invalidKey,
                "not a valid age recipient \"\(text)\": expected age1… in lower case with a valid Bech32 checksum")
        }
        guard hrp == Self.hrp else {
            if hrp.lowercased() == Self.hrp {
                throw AgeError(.invalidKey, "not a valid age recipient \"\(text)\": age1… must be lower case")
            }
            throw AgeError(.invalidKey, "not an age X25519 recipient \"\(text)\": it should start with age1")
        }
        guard data.count == 32 else {
            throw AgeError(
                .invalidKey, "not a valid age recipient \"\(text)\": the key is \(data.count) bytes instead of 32")
        }
        self.init(publicKey: data)
    }

    /// The recipient as age writes it: `age1…`.
    public var encoded: String { Bech32.encode(hrp: Self.hrp, data: publicKey) }

    /// Hex of the first 8 bytes of SHA-256 of the 32-byte public key (16 hex digits).
    public var fingerprint: String {
        let digest = SHA256Hasher.hash(publicKey)
        return digest.prefix(8).map { byte in
            let digits = Array("0123456789abcdef")
            return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])"
        }.joined()
    }

    public var description: String { encoded }

    /// Wraps `fileKey` in a new `X25519` stanza with a fresh ephemeral key.
    func wrap(_ fileKey: [UInt8]) throws -> AgeStanza {
        let ephemeral = SecureRandom.bytes(32)
        let share = try X25519.publicKey(privateKey: ephemeral)
        guard let shared = try X25519.sharedSecret(privateKey: ephemeral, publicKey: publicKey) else {
            throw AgeError(.invalidKey, "the age recipient \(encoded) is a low-order point and cannot be encrypted to")
        }
        let wrapKey = try HKDFSHA256.derive(
            secret: shared, salt: share + publicKey, info: Array("age-encryption.org/v1/X25519".utf8), count: 32)
        let body = try ChaCha20Poly1305.seal(key: wrapKey, nonce: [UInt8](repeating: 0, count: 12), plaintext: fileKey)
        return AgeStanza(arguments: ["X25519", Base64Unpadded.encodeString(share)], body: body)
    }
}
