import COpenSSL

/// ChaCha20-Poly1305 (RFC 8439) with one key and one reused `EVP_CIPHER_CTX`; each call sets a
/// new 12-byte nonce. No associated data (age uses none).
final class ChaCha20Poly1305 {
    static let keySize = 32
    static let nonceSize = 12
    static let tagSize = 16

    private let context: OpaquePointer
    private let encrypting: Bool

    /// A context for `key` (32 bytes) that either seals or opens.
    init(key: [UInt8], encrypting: Bool) throws {
        precondition(key.count == Self.keySize, "ChaCha20-Poly1305 keys are 32 bytes")
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
        self.context = context
        self.encrypting = encrypting
        let ok = key.withUnsafeBufferPointer {
            EVP_CipherInit_ex(
                context, OpenSSLAlgorithms.shared.chacha20Poly1305, nil, $0.baseAddress, nil, encrypting ? 1 : 0)
        }
        guard ok == 1 else { throw CryptoError.openSSL("EVP_CipherInit_ex(ChaCha20-Poly1305)") }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `plaintext` into `output` (at least `plaintext.count + 16` bytes): ciphertext then tag.
    /// Returns the number of bytes written.
    func seal(
        _ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws -> Int {
        precondition(encrypting && nonce.count == Self.nonceSize && output.count >= plaintext.count + Self.tagSize)
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherInit_ex(context, nil, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), 1) == 1
        else { throw CryptoError.openSSL("EVP_EncryptInit_ex(nonce)") }
        var written: Int32 = 0
        if !plaintext.isEmpty {
            guard
                EVP_EncryptUpdate(
                    context, out, &written, plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    Int32(plaintext.count)) == 1
            else { throw CryptoError.openSSL("EVP_EncryptUpdate") }
        }
        var final: Int32 = 0
        guard EVP_EncryptFinal_ex(context, out + Int(written), &final) == 1 else {
            throw CryptoError.openSSL("EVP_EncryptFinal_ex")
        }
        let length = Int(written + final)
        precondition(length == plaintext.count)
        guard lb_aead_get_tag(context, out + length, Int32(Self.tagSize)) == 1 else {
            throw CryptoError.openSSL("EVP_CTRL_AEAD_GET_TAG")
        }
        return length + Self.tagSize
    }

    /// Decrypts `ciphertext` (ciphertext then 16-byte tag) into `output` (at least
    /// `ciphertext.count - 16` bytes). Returns the plaintext length, or nil when the tag does not
    /// verify (then `output` holds garbage that must not be released).
    func open(
        _ ciphertext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws -> Int? {
        precondition(!encrypting && nonce.count == Self.nonceSize)
        guard ciphertext.count >= Self.tagSize else { return nil }
        let length = ciphertext.count - Self.tagSize
        precondition(output.count >= length)
        let input = ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherInit_ex(context, nil, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), 0) == 1
        else { throw CryptoError.openSSL("EVP_DecryptInit_ex(nonce)") }
        guard lb_aead_set_tag(context, input + length, Int32(Self.tagSize)) == 1 else {
            throw CryptoError.openSSL("EVP_CTRL_AEAD_SET_TAG")
        }
        var written: Int32 = 0
        if length > 0 {
            let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            guard EVP_DecryptUpdate(context, out, &written, input, Int32(length)) == 1 else {
                throw CryptoError.openSSL("EVP_DecryptUpdate")
            }
        }
        var final: Int32 = 0
        var scratch: UInt8 = 0
        let out = length > 0 ? output.baseAddress!.assumingMemoryBound(to: UInt8.self) + Int(written) : nil
        let verified = withUnsafeMutablePointer(to: &scratch) { s in
            EVP_DecryptFinal_ex(context, out ?? s, &final) == 1
        }
        guard verified else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        return Int(written + final)
    }

    /// Seals a short message with a fresh context (age wraps file keys with a zero nonce).
    static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        let aead = try ChaCha20Poly1305(key: key, encrypting: true)
        var out = [UInt8](repeating: 0, count: plaintext.count + tagSize)
        let n = try plaintext.withUnsafeBytes { p in
            try nonce.withUnsafeBytes { nn in try out.withUnsafeMutableBytes { try aead.seal(p, nonce: nn, into: $0) } }
        }
        return Array(out[0..<n])
    }

    /// Opens a short message with a fresh context; nil when the tag does not verify.
    static func open(key: [UInt8], nonce: [UInt8], ciphertext: [UInt8]) throws -> [UInt8]? {
        let aead = try ChaCha20Poly1305(key: key, encrypting: false)
        var out = [UInt8](repeating: 0, count: max(ciphertext.count, 1))
        let n = try ciphertext.withUnsafeBytes { c in
            try nonce.withUnsafeBytes { nn in try out.withUnsafeMutableBytes { try aead.open(c, nonce: nn, into: $0) } }
        }
        guard let n else { return nil }
        return Array(out[0..<n])
    }
}
