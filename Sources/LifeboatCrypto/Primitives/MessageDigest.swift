import COpenSSL
import LifeboatCore

/// Incremental hashing through OpenSSL's EVP digest API; also a `ByteSink` that hashes what it is
/// given.
///
/// MD5 is here only because object stores check uploads with it (S3 `Content-MD5` and ETags, GCS
/// `md5Hash`); nothing in Lifeboat relies on it for security.
public final class MessageDigest: ByteSink {
    public enum Algorithm: Sendable {
        case sha256, md5

        public var length: Int {
            switch self {
            case .sha256: 32
            case .md5: 16
            }
        }

        fileprivate var method: OpaquePointer {
            switch self {
            case .sha256: OpenSSLAlgorithms.shared.sha256
            case .md5: OpenSSLAlgorithms.shared.md5
            }
        }
    }

    public let algorithm: Algorithm
    private let context: OpaquePointer
    private var digest: [UInt8]?

    public init(_ algorithm: Algorithm) {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("\(CryptoError.openSSL("EVP_MD_CTX_new"))")
        }
        guard EVP_DigestInit_ex(context, algorithm.method, nil) == 1 else {
            fatalError("\(CryptoError.openSSL("EVP_DigestInit_ex(\(algorithm))"))")
        }
        self.algorithm = algorithm
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the hash. Must not be called after `finalize()`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(digest == nil, "MessageDigest.update after finalize")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else {
            fatalError("\(CryptoError.openSSL("EVP_DigestUpdate"))")
        }
    }

    /// `ByteSink` conformance: hashes `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        update(bytes)
    }

    /// Returns the digest. Finalize once; a second call returns the same digest.
    public func finalize() -> [UInt8] {
        if let digest { return digest }
        var out = [UInt8](repeating: 0, count: algorithm.length)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &out, &length) == 1, Int(length) == algorithm.length else {
            fatalError("\(CryptoError.openSSL("EVP_DigestFinal_ex"))")
        }
        digest = out
        return out
    }

    /// The digest of `bytes`.
    public static func hash(_ algorithm: Algorithm, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let digest = MessageDigest(algorithm)
        digest.update(bytes)
        return digest.finalize()
    }

    /// The digest of `bytes`.
    public static func hash(_ algorithm: Algorithm, _ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash(algorithm, $0) }
    }
}
