import COpenSSL
import Foundation
import LifeboatCore

/// Incremental SHA-256 through OpenSSL's EVP digest API; also a `ByteSink` that hashes what it is
/// given.
public final class SHA256Hasher: ByteSink {
    private let context: OpaquePointer
    private var digest: [UInt8]?

    public init() {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("\(CryptoError.openSSL("EVP_MD_CTX_new"))")
        }
        guard EVP_DigestInit_ex(context, OpenSSLAlgorithms.shared.sha256, nil) == 1 else {
            fatalError("\(CryptoError.openSSL("EVP_DigestInit_ex(SHA256)"))")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the hash. Must not be called after `finalize()`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(digest == nil, "SHA256Hasher.update after finalize")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else {
            fatalError("\(CryptoError.openSSL("EVP_DigestUpdate"))")
        }
    }

    /// `ByteSink` conformance: hashes `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        update(bytes)
    }

    /// Returns the 32-byte digest. Finalize once; a second call returns the same digest.
    public func finalize() -> [UInt8] {
        if let digest { return digest }
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &out, &length) == 1, length == 32 else {
            fatalError("\(CryptoError.openSSL("EVP_DigestFinal_ex"))")
        }
        digest = out
        return out
    }

    /// SHA-256 of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        let hasher = SHA256Hasher()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
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
