import COpenSSL

/// An owned `EVP_PKEY` (here always X25519), freed in deinit.
final class EVPKey {
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// An X25519 private key from its 32 raw bytes (OpenSSL clamps them as RFC 7748 says).
    static func x25519(privateKey: [UInt8]) throws -> EVPKey {
        precondition(privateKey.count == 32)
        let key = privateKey.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_private_key(lb_pkey_type_x25519(), nil, $0.baseAddress, 32)
        }
        guard let key else { throw CryptoError.openSSL("EVP_PKEY_new_raw_private_key(X25519)") }
        return EVPKey(key)
    }

    /// An X25519 public key from its 32 raw bytes.
    static func x25519(publicKey: [UInt8]) throws -> EVPKey {
        precondition(publicKey.count == 32)
        let key = publicKey.withUnsafeBufferPointer {
            EVP_PKEY_new_raw_public_key(lb_pkey_type_x25519(), nil, $0.baseAddress, 32)
        }
        guard let key else { throw CryptoError.openSSL("EVP_PKEY_new_raw_public_key(X25519)") }
        return EVPKey(key)
    }

    /// The 32 raw bytes of the public key.
    func rawPublicKey() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        guard EVP_PKEY_get_raw_public_key(pointer, &out, &length) == 1, length == 32 else {
            throw CryptoError.openSSL("EVP_PKEY_get_raw_public_key")
        }
        return out
    }
}
