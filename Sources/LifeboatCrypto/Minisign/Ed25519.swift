import COpenSSL

/// Ed25519 (RFC 8032) signature verification on raw 32-byte public keys through EVP_PKEY.
enum Ed25519 {
    /// Whether `signature` (64 bytes) is a valid signature of `message` by `publicKey` (32 bytes).
    ///
    /// Throws `CryptoError` only when OpenSSL cannot be used at all (no Ed25519 in the provider);
    /// a wrong signature is `false`.
    static func isValid(signature: [UInt8], message: UnsafeRawBufferPointer, publicKey: [UInt8]) throws -> Bool {
        precondition(publicKey.count == 32 && signature.count == 64)
        let key = publicKey.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_public_key_ex(nil, "ED25519", nil, $0.baseAddress, 32)
        }
        guard let key else { throw CryptoError.openSSL("EVP_PKEY_new_raw_public_key_ex(ED25519)") }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        // Ed25519 is a one-shot scheme: no digest (NULL md), then a single EVP_DigestVerify.
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else {
            throw CryptoError.openSSL("EVP_DigestVerifyInit(ED25519)")
        }
        // EVP_DigestVerify wants a non-NULL pointer even for an empty message.
        var empty: UInt8 = 0
        let result = signature.withUnsafeBufferPointer { signature in
            withUnsafePointer(to: &empty) { emptyPointer in
                EVP_DigestVerify(
                    context, signature.baseAddress, 64,
                    message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer, message.count)
            }
        }
        if result == 1 { return true }
        // 0 (and a negative result for a malformed signature) means "does not verify".
        OpenSSLErrorQueue.clear()
        return false
    }
}

/// Incremental BLAKE2b-512 through OpenSSL's EVP digest API, for prehashed (`ED`) minisign
/// signatures.
final class BLAKE2b512 {
    private let context: OpaquePointer

    init() throws {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        guard EVP_DigestInit_ex(context, EVP_blake2b512(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw CryptoError.openSSL("EVP_DigestInit_ex(BLAKE2b-512)")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the hash.
    func update(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else {
            throw CryptoError.openSSL("EVP_DigestUpdate(BLAKE2b-512)")
        }
    }

    /// The 64-byte digest; call once.
    func finalize() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &out, &length) == 1, length == 64 else {
            throw CryptoError.openSSL("EVP_DigestFinal_ex(BLAKE2b-512)")
        }
        return out
    }
}
