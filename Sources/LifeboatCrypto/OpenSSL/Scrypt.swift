import COpenSSL

/// scrypt (RFC 7914) through `EVP_PBE_scrypt`.
enum Scrypt {
    /// Derives `count` bytes from `passphrase` and `salt` with N = 2^logN, r = 8, p = 1.
    static func derive(passphrase: [UInt8], salt: [UInt8], logN: Int, count: Int) throws -> [UInt8] {
        precondition(logN > 0 && logN < 64)
        let n = UInt64(1) << UInt64(logN)
        let r: UInt64 = 8
        let p: UInt64 = 1
        // OpenSSL refuses to use more than maxmem: V (128·r·(N+2)) plus B (128·r·p), plus slack.
        let maxMemory = 128 * r * (n + 2) + 128 * r * p + (1 << 20)
        var out = [UInt8](repeating: 0, count: count)
        let pass = passphrase.isEmpty ? [0] : passphrase
        let ok = pass.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                pw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pass.count) { pwChars in
                    EVP_PBE_scrypt(
                        pwChars, passphrase.count, s.baseAddress, salt.count, n, r, p, maxMemory, &out, count)
                }
            }
        }
        guard ok == 1 else { throw CryptoError.openSSL("EVP_PBE_scrypt(log2 N = \(logN))") }
        return out
    }
}
