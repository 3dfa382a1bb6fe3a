import COpenSSL
import Foundation
import LifeboatCore

/// Incremental SHA-256 through OpenSSL's EVP digest API; also a `ByteSink` that hashes what it is
/// given.
public final class SHA256Hasher: ByteSink {
    private let digest = MessageDigest(.sha256)

    public init() {}

    /// Adds `bytes` to the hash. Must not be called after `finalize()`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        digest.update(bytes)
    }

    /// `ByteSink` conformance: hashes `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        digest.update(bytes)
    }

    /// Returns the 32-byte digest. Finalize once; a second call returns the same digest.
    public func finalize() -> [UInt8] {
        digest.finalize()
    }

    /// SHA-256 of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        MessageDigest.hash(.sha256, bytes)
    }

    /// SHA-256 of the file at `path`, read in 256 KiB pieces.
    ///
    /// Throws `CryptoError` naming the path and the system error when the file cannot be read.
    public static func hash(fileAt path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CryptoError(message: "cannot open \(path) for hashing: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let hasher = SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(message: "cannot read \(path) for hashing: \(String(cString: strerror(errno)))")
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finalize()
    }
}
