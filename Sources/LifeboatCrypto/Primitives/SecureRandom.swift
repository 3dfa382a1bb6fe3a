import COpenSSL

/// Random bytes from OpenSSL's CSPRNG.
public enum SecureRandom {
    /// Returns `count` random bytes (`RAND_bytes`); stops the process only if OpenSSL's RNG fails,
    /// because nothing secure can continue without randomness.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "negative byte count")
        if count == 0 { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var offset = 0
            while offset < count {
                let n = min(count - offset, Int(Int32.max))
                guard RAND_bytes(buffer.baseAddress! + offset, Int32(n)) == 1 else {
                    fatalError("\(CryptoError.openSSL("RAND_bytes"))")
                }
                offset += n
            }
            initialized = count
        }
    }
}
