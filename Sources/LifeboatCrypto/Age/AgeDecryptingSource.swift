import LifeboatCore

/// Decrypts an age v1 file read from `input`.
///
/// `init` reads and parses the header, unwraps the file key with the identities and checks the
/// header MAC before any plaintext exists. `read` releases a chunk's plaintext only after its
/// Poly1305 tag verified, and returns 0 only after a valid final chunk. It keeps one byte of
/// lookahead past each full chunk, so a full final chunk is recognised without guessing.
///
/// Errors (`AgeError`): `.truncated` when the input ends without a final chunk (exactly at a chunk
/// boundary, after a chunk not marked final, or with less than a tag left); `.payloadCorrupted`
/// for a chunk that fails authentication (including a file cut inside a chunk, which cannot be
/// told apart from damage), an empty final chunk after other chunks, or data after the final
/// chunk. Plaintext that verified before the failure is still released. A failure is sticky:
/// later reads throw it again.
public final class AgeDecryptingSource: ByteSource {
    private let input: any ByteSource
    private let aead: ChaCha20Poly1305
    /// Ciphertext of the next chunk plus one byte of lookahead.
    private let ciphertext: UnsafeMutableRawBufferPointer
    private var ciphertextCount = 0
    private var inputEnded = false
    /// Verified plaintext not yet handed out: `plaintext[plaintextStart..<plaintextEnd]`.
    private let plaintext: UnsafeMutableRawBufferPointer
    private var plaintextStart = 0
    private var plaintextEnd = 0
    private var counter: UInt64 = 0
    private var reachedFinalChunk = false
    /// An error to throw once the plaintext released before it has been read.
    private var pendingError: AgeError?

    /// Reads the header from `input` and prepares to decrypt with the first identity that unwraps
    /// a stanza.
    ///
    /// Throws `AgeError`: `.headerInvalid`, `.unsupported`, `.truncated` (the file ends inside the
    /// header or before the payload nonce), `.noMatchingIdentity`, `.headerMACMismatch`.
    public init(input: any ByteSource, identities: [AgeIdentity]) throws {
        let reader = AgeHeaderReader(input)
        let header = try AgeHeader.read(from: reader)
        let fileKey = try Self.unwrapFileKey(header.stanzas, identities: identities)

        let expectedMAC = try AgeHeader.computeMAC(fileKey: fileKey, over: header.macInput)
        guard ConstantTime.equals(expectedMAC, header.mac) else {
            throw AgeError(
                .headerMACMismatch, "the age header MAC does not match: the header was modified or corrupted")
        }

        let nonce = Array(try reader.bytes(AgeStream.payloadNonceSize))
        guard nonce.count == AgeStream.payloadNonceSize else {
            throw AgeError(.truncated, "the archive is truncated: it ends before the payload nonce")
        }
        let aead = try ChaCha20Poly1305(key: AgeStream.payloadKey(fileKey: fileKey, nonce: nonce), encrypting: false)

        let leftover = reader.remainder()
        self.input = input
        self.aead = aead
        self.inputEnded = reader.hasReachedEnd
        self.ciphertext = .allocate(byteCount: max(AgeStream.encryptedChunkSize + 1, leftover.count), alignment: 64)
        self.plaintext = .allocate(byteCount: AgeStream.chunkSize, alignment: 64)
        leftover.withUnsafeBytes { ciphertext.copyMemory(from: $0) }
        self.ciphertextCount = leftover.count
    }

    deinit {
        ciphertext.deallocate()
        plaintext.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if buffer.isEmpty { return 0 }
        while true {
            if plaintextStart < plaintextEnd {
                let n = min(buffer.count, plaintextEnd - plaintextStart)
                buffer.copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: plaintext[plaintextStart..<(plaintextStart + n)]))
                plaintextStart += n
                return n
            }
            if let pendingError { throw pendingError }
            if reachedFinalChunk { return 0 }
            do {
                try decryptNextChunk()
            } catch let error as AgeError {
                pendingError = error
                throw error
            }
        }
    }

    // MARK: - Header

    private static func unwrapFileKey(_ stanzas: [AgeStanza], identities: [AgeIdentity]) throws -> [UInt8] {
        for identity in identities {
            for stanza in stanzas {
                let fileKey: [UInt8]?
                switch identity {
                case .x25519(let key):
                    fileKey = try key.unwrap(stanza)
                case .scrypt(let passphrase, let maxWorkFactor):
                    fileKey = try AgeScrypt.unwrap(stanza, passphrase: passphrase, maxWorkFactor: maxWorkFactor)
                }
                if let fileKey {
                    guard fileKey.count == 16 else {
                        throw AgeError(
                            .headerInvalid, "a stanza unwrapped to a \(fileKey.count)-byte file key instead of 16")
                    }
                    return fileKey
                }
            }
        }
        let isPassphraseFile = stanzas.contains { $0.arguments.first == "scrypt" }
        let hasPassphrase = identities.contains { if case .scrypt = $0 { true } else { false } }
        let hasKey = identities.contains { if case .x25519 = $0 { true } else { false } }
        if identities.isEmpty {
            throw AgeError(.noMatchingIdentity, "no identity was given to decrypt the age file")
        } else if isPassphraseFile && !hasPassphrase {
            throw AgeError(.noMatchingIdentity, "the age file is passphrase-encrypted, but no passphrase was given")
        } else if isPassphraseFile {
            throw AgeError(.noMatchingIdentity, "the passphrase does not decrypt the age file (wrong passphrase)")
        } else if !hasKey {
            throw AgeError(.noMatchingIdentity, "the age file is encrypted to keys, but only a passphrase was given")
        }
        throw AgeError(
            .noMatchingIdentity,
            "none of the \(identities.count) identities matches any of the \(stanzas.count) recipients of the age file")
    }

    // MARK: - Payload

    /// Reads until the ciphertext buffer holds a full chunk plus one lookahead byte, or the input ends.
    private func fillCiphertext() throws {
        let wanted = AgeStream.encryptedChunkSize + 1
        while ciphertextCount < wanted && !inputEnded {
            let n = try input.read(into: UnsafeMutableRawBufferPointer(rebasing: ciphertext[ciphertextCount..<wanted]))
            if n == 0 { inputEnded = true } else { ciphertextCount += n }
        }
    }

    /// Opens `ciphertext[..<count]` as chunk `counter` into `plaintext`; nil if the tag fails.
    private func open(count: Int, last: Bool) throws -> Int? {
        let nonce = AgeStream.ChunkNonce(counter: counter, last: last)
        return try nonce.bytes.withUnsafeBytes {
            try aead.open(UnsafeRawBufferPointer(rebasing: ciphertext[..<count]), nonce: $0, into: plaintext)
        }
    }

    private func release(_ count: Int) {
        plaintextStart = 0
        plaintextEnd = count
        counter += 1
    }

    private func decryptNextChunk() throws {
        try fillCiphertext()
        let chunkNumber = counter + 1
        if ciphertextCount > AgeStream.encryptedChunkSize {
            // A full chunk with more data after it: it must be a non-final chunk.
            if let n = try open(count: AgeStream.encryptedChunkSize, last: false) {
                release(n)
                // Keep the lookahead byte as the start of the next chunk.
                ciphertext[0] = ciphertext[AgeStream.encryptedChunkSize]
                ciphertextCount = 1
                return
            }
            if let n = try open(count: AgeStream.encryptedChunkSize, last: true) {
                release(n)
                reachedFinalChunk = true
                pendingError = AgeError(
                    .payloadCorrupted,
                    "the archive is corrupted: data follows the final STREAM chunk (chunk \(chunkNumber))")
                return
            }
            throw AgeError(
                .payloadCorrupted, "the archive is corrupted: STREAM chunk \(chunkNumber) failed authentication")
        }

        // The input ended: what is left must be the final chunk.
        let count = ciphertextCount
        if count == 0 {
            throw AgeError(.truncated, "the archive is truncated: the payload has no STREAM chunks")
        }
        if count < ChaCha20Poly1305.tagSize {
            throw AgeError(
                .truncated,
                "the archive is truncated: STREAM chunk \(chunkNumber) is shorter than its authentication tag")
        }
        if let n = try open(count: count, last: true) {
            if n == 0 && counter > 0 {
                throw AgeError(
                    .payloadCorrupted,
                    "the archive is corrupted: the final STREAM chunk is empty, which only an empty payload may have")
            }
            release(n)
            reachedFinalChunk = true
            ciphertextCount = 0
            return
        }
        if let n = try open(count: count, last: false) {
            // A valid chunk not marked final: the writer never finished the stream.
            ciphertextCount = 0
            let error = AgeError(
                .truncated,
                "the archive is truncated: the final STREAM chunk is missing (the file ends after chunk \(chunkNumber))"
            )
            guard count == AgeStream.encryptedChunkSize else {
                // Non-final chunks are always full; a short one is never released.
                throw error
            }
            release(n)
            pendingError = error
            return
        }
        throw AgeError(
            .payloadCorrupted,
            "the archive is corrupted or truncated: the last STREAM chunk (chunk \(chunkNumber)) failed authentication")
    }
}
