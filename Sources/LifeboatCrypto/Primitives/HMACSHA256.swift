import COpenSSL

/// HMAC-SHA-256 (RFC 2104) through OpenSSL's one-shot `HMAC`.
public enum HMACSHA256 {
    /// The 32-byte HMAC-SHA-256 of `message` under `key`; stops the process only if OpenSSL fails.
    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        // Empty arrays may have no base address; OpenSSL gets a real pointer with a zero length.
        let keyBytes = key.isEmpty ? [0] : key
        let messageBytes = message.isEmpty ? [0] : message
        let ok = keyBytes.withUnsafeBytes { k in
            messageBytes.withUnsafeBytes { m in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(
                        OpenSSLAlgorithms.shared.sha256, k.baseAddress, Int32(key.count),
                        m.baseAddress!.assumingMemoryBound(to: UInt8.self), message.count,
                        o.baseAddress, &length) != nil
                }
            }
        }
        guard ok, length == 32 else { fatalError("\(CryptoError.openSSL("HMAC-SHA256"))") }
        return out
    }
}
