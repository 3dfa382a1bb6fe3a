import LifeboatCore

/// Encrypts everything written to it into an age v1 file on `output`.
///
/// The header (and the payload nonce) is written during `init`. Plaintext is cut into 64 KiB
/// STREAM chunks sealed with ChaCha20-Poly1305 through one reused OpenSSL context. `finish()`
/// seals the final chunk; without it the output is an incomplete (truncated) file.
public final class AgeEncryptingSink: ByteSink {
    private let output: any ByteSink
    private let aead: ChaCha20Poly1305
    private let plaintext: UnsafeMutableRawBufferPointer
    private let ciphertext: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private var counter: UInt64 = 0
    private var finished = false
    private var failed = false

    /// Writes the header for `recipients` to `output`.
    ///
    /// Throws `AgeError(.unsupported)` for an empty list or an scrypt recipient that is not alone,
    /// `AgeError(.invalidKey)` for an empty passphrase, and whatever `output` throws.
    public init(recipients: [AgeRecipient], output: any ByteSink) throws {
        guard !recipients.isEmpty else {
            throw AgeError(.unsupported, "an age file needs at least one recipient")
        }
        let hasScrypt = recipients.contains { if case .scrypt = $0 { true } else { false } }
        if hasScrypt && recipients.count > 1 {
            throw AgeError(.unsupported, "a passphrase (scrypt) recipient must be the only recipient of an age file")
        }

        let fileKey = SecureRandom.bytes(16)
        var stanzas: [AgeStanza] = []
        for recipient in recipients {
            switch recipient {
            case .x25519(let key):
                stanzas.append(try key.wrap(fileKey))
            case .scrypt(let passphrase, let workFactor):
                stanzas.append(try AgeScrypt.wrap(fileKey, passphrase: passphrase, workFactor: workFactor))
            }
        }
        let nonce = SecureRandom.bytes(AgeStream.payloadNonceSize)
        let header = try AgeHeader.encode(stanzas: stanzas, fileKey: fileKey) + nonce
        let aead = try ChaCha20Poly1305(key: AgeStream.payloadKey(fileKey: fileKey, nonce: nonce), encrypting: true)
        try output.write(header)

        self.output = output
        self.aead = aead
        self.plaintext = .allocate(byteCount: AgeStream.chunkSize, alignment: 64)
        self.ciphertext = .allocate(byteCount: AgeStream.encryptedChunkSize, alignment: 64)
    }

    deinit {
        plaintext.deallocate()
        ciphertext.deallocate()
    }

    /// Encrypts `bytes`. Full chunks are written as soon as it is known they are not the last.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try checkUsable()
        var remaining = bytes
        do {
            while !remaining.isEmpty {
                if buffered == AgeStream.chunkSize {
                    // More data follows, so the buffered chunk is not the final one.
                    try seal(UnsafeRawBufferPointer(plaintext), last: false)
                    buffered = 0
                }
                if buffered == 0 && remaining.count > AgeStream.chunkSize {
                    // Seal straight from the caller's buffer; more data follows this chunk.
                    try seal(UnsafeRawBufferPointer(rebasing: remaining[..<AgeStream.chunkSize]), last: false)
                    remaining = UnsafeRawBufferPointer(rebasing: remaining[AgeStream.chunkSize...])
                    continue
                }
                let n = min(AgeStream.chunkSize - buffered, remaining.count)
                UnsafeMutableRawBufferPointer(rebasing: plaintext[buffered..<(buffered + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: remaining[..<n]))
                buffered += n
                remaining = UnsafeRawBufferPointer(rebasing: remaining[n...])
            }
        } catch {
            failed = true
            throw error
        }
    }

    /// Seals and writes the final chunk (empty only when nothing was written). Call once.
    public func finish() throws {
        try checkUsable()
        do {
            try seal(UnsafeRawBufferPointer(rebasing: plaintext[..<buffered]), last: true)
            buffered = 0
            finished = true
        } catch {
            failed = true
            throw error
        }
    }

    private func checkUsable() throws {
        if finished {
            throw AgeError(.unsupported, "the age encrypting sink is already finished; nothing more can be written")
        }
        if failed {
            throw AgeError(.unsupported, "the age encrypting sink failed earlier; the output is incomplete")
        }
    }

    private func seal(_ chunk: UnsafeRawBufferPointer, last: Bool) throws {
        let nonce = AgeStream.ChunkNonce(counter: counter, last: last)
        let n = try nonce.bytes.withUnsafeBytes { try aead.seal(chunk, nonce: $0, into: ciphertext) }
        counter += 1
        try output.write(UnsafeRawBufferPointer(rebasing: ciphertext[..<n]))
    }
}
