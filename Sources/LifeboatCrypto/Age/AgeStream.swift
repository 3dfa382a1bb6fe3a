/// Constants and the nonce of age's STREAM payload encryption.
enum AgeStream {
    /// Plaintext bytes per chunk.
    static let chunkSize = 64 << 10
    /// Ciphertext bytes per full chunk (plaintext + Poly1305 tag).
    static let encryptedChunkSize = chunkSize + ChaCha20Poly1305.tagSize
    /// The payload nonce length at the start of the payload.
    static let payloadNonceSize = 16

    /// The payload key: HKDF-SHA-256(file key, salt = payload nonce, info = "payload").
    static func payloadKey(fileKey: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        try HKDFSHA256.derive(secret: fileKey, salt: nonce, info: Array("payload".utf8), count: 32)
    }

    /// The 12-byte ChaCha20-Poly1305 nonce of chunk `counter`: an 11-byte big-endian counter and a
    /// final-chunk flag byte.
    struct ChunkNonce {
        private(set) var bytes = [UInt8](repeating: 0, count: 12)

        init(counter: UInt64, last: Bool) {
            for i in 0..<8 { bytes[3 + i] = UInt8(truncatingIfNeeded: counter >> UInt64(8 * (7 - i))) }
            bytes[11] = last ? 1 : 0
        }
    }
}
