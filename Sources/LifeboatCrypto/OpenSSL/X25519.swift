import COpenSSL

/// X25519 (RFC 7748) on raw 32-byte keys through EVP_PKEY.
enum X25519 {
    /// The public key of `privateKey`: X25519(privateKey, basepoint).
    static func publicKey(privateKey: [UInt8]) throws -> [UInt8] {
        try EVPKey.x25519(privateKey: privateKey).rawPublicKey()
    }

    /// X25519(privateKey, publicKey), or nil when the result is all zeros (`publicKey` is a
    /// low-order point), which OpenSSL refuses to return and age forbids.
    static func sharedSecret(privateKey: [UInt8], publicKey: [UInt8]) throws -> [UInt8]? {
        let mine = try EVPKey.x25519(privateKey: privateKey)
        let theirs = try EVPKey.x25519(publicKey: publicKey)
        guard let context = EVP_PKEY_CTX_new(mine.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new(X25519)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_derive_init(context) == 1 else { throw CryptoError.openSSL("EVP_PKEY_derive_init") }
        guard EVP_PKEY_derive_set_peer(context, theirs.pointer) == 1 else {
            throw CryptoError.openSSL("EVP_PKEY_derive_set_peer")
        }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_derive(context, &out, &length) == 1, length == 32 else {
            // OpenSSL's X25519 fails exactly when the shared secret is all zeros.
            OpenSSLErrorQueue.clear()
            return nil
        }
        if out.allSatisfy({ $0 == 0 }) { return nil }
        return out
    }
}
