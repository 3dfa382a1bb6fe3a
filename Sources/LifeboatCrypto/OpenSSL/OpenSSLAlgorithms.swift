import COpenSSL

/// Algorithm objects fetched once from OpenSSL's default provider.
///
/// Fetching on every use (what `EVP_sha256()` does implicitly in OpenSSL 3) costs a lock and a
/// lookup per call; these are fetched once and shared.
final class OpenSSLAlgorithms: @unchecked Sendable {
    // @unchecked Sendable: the fields are immutable after init, and fetched EVP_MD / EVP_CIPHER /
    // EVP_KDF objects are reference-counted, read-only method tables that OpenSSL documents as
    // safe to share between threads. They live for the whole process, so they are never freed.
    let sha256: OpaquePointer
    let md5: OpaquePointer
    let chacha20Poly1305: OpaquePointer
    let hkdf: OpaquePointer

    static let shared = OpenSSLAlgorithms()

    private init() {
        guard let sha256 = EVP_MD_fetch(nil, "SHA256", nil),
            let md5 = EVP_MD_fetch(nil, "MD5", nil),
            let chacha = EVP_CIPHER_fetch(nil, "ChaCha20-Poly1305", nil),
            let hkdf = EVP_KDF_fetch(nil, "HKDF", nil)
        else {
            fatalError("\(CryptoError.openSSL("Fetching SHA256, MD5, ChaCha20-Poly1305 and HKDF from OpenSSL"))")
        }
        self.sha256 = sha256
        self.md5 = md5
        self.chacha20Poly1305 = chacha
        self.hkdf = hkdf
    }
}
