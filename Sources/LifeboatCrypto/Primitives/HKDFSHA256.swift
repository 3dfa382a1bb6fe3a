import COpenSSL

/// HKDF-SHA-256 (RFC 5869, extract then expand) through OpenSSL's EVP_KDF.
public enum HKDFSHA256 {
    /// Derives `count` bytes (1 to 8160) from `secret` with `salt` and `info`; an empty salt means
    /// a salt of 32 zero bytes, as in RFC 5869.
    public static func derive(secret: [UInt8], salt: [UInt8], info: [UInt8], count: Int) throws -> [UInt8] {
        guard count > 0, count <= 255 * 32 else {
            throw CryptoError(message: "HKDF-SHA256 cannot derive \(count) bytes (allowed: 1 to 8160)")
        }
        guard let context = EVP_KDF_CTX_new(OpenSSLAlgorithms.shared.hkdf) else {
            throw CryptoError.openSSL("EVP_KDF_CTX_new(HKDF)")
        }
        defer { EVP_KDF_CTX_free(context) }

        // The OSSL_PARAMs point into these arrays: they stay alive across the derive call.
        let secretBytes = secret.isEmpty ? [0] : secret
        let saltBytes = salt.isEmpty ? [0] : salt
        let infoBytes = info.isEmpty ? [0] : info
        var out = [UInt8](repeating: 0, count: count)
        let ok = secretBytes.withUnsafeBufferPointer { s in
            saltBytes.withUnsafeBufferPointer { sa in
                infoBytes.withUnsafeBufferPointer { i in
                    var params = [lb_kdf_param_digest_sha256(), lb_kdf_param_key(s.baseAddress, secret.count)]
                    if !salt.isEmpty { params.append(lb_kdf_param_salt(sa.baseAddress, salt.count)) }
                    if !info.isEmpty { params.append(lb_kdf_param_info(i.baseAddress, info.count)) }
                    params.append(lb_param_end())
                    return EVP_KDF_derive(context, &out, count, &params) == 1
                }
            }
        }
        guard ok else { throw CryptoError.openSSL("EVP_KDF_derive(HKDF-SHA256)") }
        return out
    }
}
