import Foundation

/// Microsoft's QuickXorHash, computed incrementally: the hash OneDrive and SharePoint report for
/// every file (`file.hashes.quickXorHash` of a driveItem, base64 of 20 bytes, ``base64``).
///
/// The reference algorithm XORs byte `k` of the input into a 160-bit circular register at bit
/// `11·k mod 160` (least significant bit first), then XORs the input length (64-bit little-endian)
/// into the last eight of the register's twenty bytes. Because the bit position of byte `k` depends
/// only on `k mod 160` (11 · 160 ≡ 0), the input can first be folded into 160 bytes — byte `k` XORed
/// into byte `k mod 160` — and spread into the register once at the end. The fold is twenty 64-bit
/// XORs per 160 input bytes, so the hash runs near memory speed.
///
/// It detects accidental corruption; it is not a cryptographic digest.
public struct QuickXorHash: Sendable, Hashable {
    /// Input bytes between repeats of the same bit position.
    private static let period = 160
    /// The register's width in bytes (160 bits).
    public static let length = 20

    /// The input folded modulo 160 bytes: byte `k` XORed into byte `k mod 160`, as 20 words.
    private var fold = [UInt64](repeating: 0, count: period / 8)
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0

    public init() {}

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let phase = Int(count % Int64(Self.period))
        count += Int64(bytes.count)
        fold.withUnsafeMutableBufferPointer { words in
            Self.fold(base, bytes.count, phase: phase, into: words.baseAddress!)
        }
    }

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The twenty bytes of the hash of everything given so far.
    public var digest: [UInt8] {
        var register = [UInt8](repeating: 0, count: Self.length)
        fold.withUnsafeBytes { folded in
            for index in 0..<Self.period {
                let byte = folded[index]
                guard byte != 0 else { continue }
                let bit = (11 * index) % (Self.length * 8)
                let spread = UInt16(byte) << UInt16(bit % 8)
                register[bit / 8] ^= UInt8(truncatingIfNeeded: spread)
                register[(bit / 8 + 1) % Self.length] ^= UInt8(truncatingIfNeeded: spread >> 8)
            }
        }
        var length = UInt64(bitPattern: count)
        for index in (Self.length - 8)..<Self.length {
            register[index] ^= UInt8(truncatingIfNeeded: length)
            length >>= 8
        }
        return register
    }

    /// The hash as OneDrive and SharePoint write it: base64 of ``digest``.
    public var base64: String {
        Data(digest).base64EncodedString()
    }

    /// The hash of `bytes`, base64.
    public static func base64(of bytes: [UInt8]) -> String {
        var hash = QuickXorHash()
        hash.update(bytes)
        return hash.base64
    }

    /// XORs `count` bytes at `base` into the 160-byte fold, the first one at byte `phase`.
    private static func fold(
        _ base: UnsafeRawPointer, _ count: Int, phase start: Int, into words: UnsafeMutablePointer<UInt64>
    ) {
        // Single bytes go through raw memory: the fold is bound to UInt64.
        let folded = UnsafeMutableRawPointer(words)
        func xorByte(_ byte: UInt8, at index: Int) {
            let old = folded.load(fromByteOffset: index, as: UInt8.self)
            folded.storeBytes(of: old ^ byte, toByteOffset: index, as: UInt8.self)
        }
        var p = base
        var left = count
        var phase = start
        // Single bytes up to the next period boundary, so whole periods line up with the words.
        if phase != 0 {
            while left > 0, phase < period {
                xorByte(p.load(as: UInt8.self), at: phase)
                p += 1
                left -= 1
                phase += 1
            }
            if phase == period { phase = 0 }
        }
        // Whole periods: twenty 64-bit XORs each (byte order does not matter for a bytewise XOR).
        while left >= period {
            for word in 0..<(period / 8) {
                words[word] ^= p.loadUnaligned(fromByteOffset: word * 8, as: UInt64.self)
            }
            p += period
            left -= period
        }
        // The rest, bytewise.
        while left > 0 {
            xorByte(p.load(as: UInt8.self), at: phase)
            p += 1
            left -= 1
            phase += 1
        }
    }
}
