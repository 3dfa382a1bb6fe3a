import Foundation
import LifeboatCore

extension MinisignPublicKey {
    /// The most bytes `verify(source:…)` and `verify(fileAt:…)` hold in memory for a legacy (`Ed`)
    /// signature, which covers the raw message and so needs all of it at once (64 MiB).
    /// Prehashed (`ED`) signatures are streamed through BLAKE2b-512 and have no limit.
    public static let defaultLegacyMessageLimit = 64 << 20

    /// Verifies `signature` over `message` and returns the verified trusted comment.
    ///
    /// Checks, in order: the signature's key id is this key's; the Ed25519 signature over the
    /// message (`Ed`) or over its BLAKE2b-512 hash (`ED`); the global signature over the signature
    /// bytes followed by the trusted comment. Throws `MinisignError` (`.keyMismatch`,
    /// `.badSignature`, `.badTrustedComment`) at the first check that fails.
    public func verify(_ message: [UInt8], signature: MinisignSignature) throws -> String {
        try checkKeyID(of: signature)
        let valid: Bool
        switch signature.algorithm {
        case .legacy:
            valid = try message.withUnsafeBytes {
                try Ed25519.isValid(signature: signature.signature, message: $0, publicKey: ed25519)
            }
        case .prehashed:
            let hash = try BLAKE2b512()
            try message.withUnsafeBytes { try hash.update($0) }
            valid = try isValidPrehashed(signature, digest: hash.finalize())
        }
        return try finish(signature, messageIsValid: valid)
    }

    /// Verifies `signature` over everything `source` yields and returns the verified trusted
    /// comment; see `verify(_:signature:)` for the checks.
    ///
    /// A prehashed (`ED`) signature is checked while streaming in 64 KiB pieces. A legacy (`Ed`)
    /// signature needs the whole message in memory: more than `legacyMessageLimit` bytes are refused
    /// with `.messageTooLarge`. Errors of the source are rethrown as they are.
    public func verify(
        source: any ByteSource, signature: MinisignSignature, legacyMessageLimit: Int = defaultLegacyMessageLimit
    ) throws -> String {
        try checkKeyID(of: signature)
        switch signature.algorithm {
        case .legacy:
            let message: [UInt8]
            do {
                message = try source.readAll(limit: legacyMessageLimit)
            } catch is StreamLimitExceeded {
                throw MinisignError(
                    .messageTooLarge,
                    "the message is larger than \(legacyMessageLimit) bytes, the limit for a legacy (\"Ed\") "
                        + "signature, which needs the whole message in memory; sign it with a prehashed "
                        + "signature (minisign -S without -l)")
            }
            return try verify(message, signature: signature)
        case .prehashed:
            let hash = try BLAKE2b512()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = try source.read(into: buffer)
                if n == 0 { break }
                try hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
            return try finish(signature, messageIsValid: isValidPrehashed(signature, digest: hash.finalize()))
        }
    }

    /// Verifies `signature` over the file at `path` and returns the verified trusted comment; see
    /// `verify(source:signature:legacyMessageLimit:)` for streaming and limits.
    ///
    /// Throws `MinisignError` with code `.unreadable` naming the path and the system error when the
    /// file cannot be read.
    public func verify(
        fileAt path: String, signature: MinisignSignature, legacyMessageLimit: Int = defaultLegacyMessageLimit
    ) throws -> String {
        let file = try MinisignFileSource(path: path)
        return try verify(source: file, signature: signature, legacyMessageLimit: legacyMessageLimit)
    }

    private func checkKeyID(of signature: MinisignSignature) throws {
        guard signature.keyID == keyID else {
            throw MinisignError(
                .keyMismatch,
                "the signature was made with key id \(signature.keyID), but the public key has key id "
                    + "\(keyID); it was signed with another key, or the configured public key is the wrong one")
        }
    }

    private func isValidPrehashed(_ signature: MinisignSignature, digest: [UInt8]) throws -> Bool {
        try digest.withUnsafeBytes {
            try Ed25519.isValid(signature: signature.signature, message: $0, publicKey: ed25519)
        }
    }

    /// Throws for an invalid message signature, then checks the global signature.
    private func finish(_ signature: MinisignSignature, messageIsValid: Bool) throws -> String {
        guard messageIsValid else {
            throw MinisignError(
                .badSignature,
                "the signature (key id \(keyID)) does not match the data: the data was altered, "
                    + "truncated, or is not the file that was signed")
        }
        let signed = signature.signature + Array(signature.trustedComment.utf8)
        let commentIsValid = try signed.withUnsafeBytes {
            try Ed25519.isValid(signature: signature.globalSignature, message: $0, publicKey: ed25519)
        }
        guard commentIsValid else {
            throw MinisignError(
                .badTrustedComment,
                "the trusted comment's signature does not verify: the trusted comment or the global "
                    + "signature (lines 3 and 4 of the .minisig) was altered")
        }
        return signature.trustedComment
    }
}

/// The bytes of a file, read with plain POSIX calls.
private final class MinisignFileSource: ByteSource {
    private let descriptor: Int32
    private let path: String

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw MinisignError(.unreadable, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Foundation.read(descriptor, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw MinisignError(.unreadable, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
    }
}
