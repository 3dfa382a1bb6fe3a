import COpenSSL

/// An RSA private key read from PEM, for RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256,
/// RFC 7518 §3.3): the JWT assertions of Google service accounts and Microsoft client credentials.
///
/// Accepts PKCS#8 (`BEGIN PRIVATE KEY`, what Google's service-account JSON holds) and PKCS#1
/// (`BEGIN RSA PRIVATE KEY`). Encrypted keys are refused: there is nobody to ask for a passphrase.
/// Errors name what is wrong with the key and OpenSSL's reason, never the key itself.
public final class RSASigningKey: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never modified after init, and OpenSSL 3 lets several threads use
    // one key at once as long as each operation has its own context (one EVP_MD_CTX per signature).
    private let key: OpaquePointer
    /// The size of the modulus in bits.
    public let bits: Int

    /// Keys shorter than this are refused (Google and Microsoft both require 2048 bits).
    public static let minimumBits = 2048

    /// Reads a private key from PEM text.
    public init(pem: String) throws {
        guard pem.contains("-----BEGIN ") else {
            throw CryptoError(message: "the private key is not in PEM form (no -----BEGIN line)")
        }
        if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || pem.contains("Proc-Type: 4,ENCRYPTED") {
            throw CryptoError(
                message: "the private key is encrypted with a passphrase; export it without one "
                    + "(openssl pkey -in KEY -out KEY.plain) and protect the file instead")
        }
        OpenSSLErrorQueue.clear()
        let text = Array(pem.utf8)
        let loaded: OpaquePointer? = text.withUnsafeBytes { raw in
            // The BIO reads the buffer in place; it is freed before the buffer goes away.
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            // A callback that supplies no passphrase: OpenSSL's default would prompt on the terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let loaded else {
            let reason = OpenSSLErrorQueue.drain()
            throw CryptoError(
                message: "the private key cannot be read as a PEM RSA key (PKCS#8 or PKCS#1)"
                    + (reason.isEmpty ? "" : ": \(reason.joined(separator: "; "))"))
        }
        guard EVP_PKEY_is_a(loaded, "RSA") == 1 else {
            EVP_PKEY_free(loaded)
            throw CryptoError(message: "the private key is not an RSA key (RS256 signatures need RSA)")
        }
        let bits = Int(EVP_PKEY_get_bits(loaded))
        guard bits >= Self.minimumBits else {
            EVP_PKEY_free(loaded)
            throw CryptoError(
                message: "the private key is RSA-\(bits); at least \(Self.minimumBits) bits are needed")
        }
        self.key = loaded
        self.bits = bits
    }

    deinit { EVP_PKEY_free(key) }

    /// The RS256 signature of `message`: SHA-256, then RSASSA-PKCS1-v1_5 (`bits / 8` bytes).
    public func signSHA256(_ message: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        // RSA keys sign with PKCS#1 v1.5 padding unless told otherwise.
        guard EVP_DigestSignInit(context, nil, OpenSSLAlgorithms.shared.sha256, nil, key) == 1 else {
            throw CryptoError.openSSL("EVP_DigestSignInit(RSA, SHA-256)")
        }
        var signature = [UInt8](repeating: 0, count: (bits + 7) / 8)
        var length = signature.count
        let status = message.withUnsafeBufferPointer { input in
            EVP_DigestSign(context, &signature, &length, input.baseAddress, input.count)
        }
        guard status == 1 else { throw CryptoError.openSSL("EVP_DigestSign(RS256)") }
        return Array(signature.prefix(length))
    }
}
