import Foundation

/// CRC-32C (Castagnoli, RFC 3720 §B.4), computed incrementally; what Google Cloud Storage reports as
/// an object's `crc32c` (base64 of the four big-endian bytes, ``base64``).
///
/// Slicing-by-8 in portable Swift: eight bytes per step through eight 256-entry tables. It is a
/// check against accidental corruption in transit, not a cryptographic digest.
public struct CRC32C: Sendable, Hashable {
    /// The checksum of everything given so far.
    public private(set) var value: UInt32 = 0

    public init() {}

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = CRC32CTables.shared.table.withUnsafeBufferPointer { table in
            Self.update(~value, base, bytes.count, table.baseAddress!)
        }
    }

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The four bytes of the checksum, most significant first.
    public var bigEndianBytes: [UInt8] {
        [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ]
    }

    /// The checksum as Google Cloud Storage writes it: base64 of ``bigEndianBytes``.
    public var base64: String {
        Data(bigEndianBytes).base64EncodedString()
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The loop: `crc` is the running register (already inverted); returns the final (inverted) value.
    /// `table` holds the eight tables one after the other.
    private static func update(
        _ start: UInt32, _ base: UnsafeRawPointer, _ count: Int, _ table: UnsafePointer<UInt32>
    ) -> UInt32 {
        var crc = start
        var p = base
        var left = count
        // Single bytes until the pointer is 8-byte aligned, so the wide loads are aligned.
        while left > 0, UInt(bitPattern: p) & 7 != 0 {
            crc = table[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
            p += 1
            left -= 1
        }
        while left >= 8 {
            let word = UInt64(littleEndian: p.load(as: UInt64.self))
            let low = UInt32(truncatingIfNeeded: word) ^ crc
            let high = UInt32(truncatingIfNeeded: word >> 32)
            crc =
                table[7 &* 256 &+ Int(low & 0xFF)] ^ table[6 &* 256 &+ Int((low >> 8) & 0xFF)]
                ^ table[5 &* 256 &+ Int((low >> 16) & 0xFF)] ^ table[4 &* 256 &+ Int(low >> 24)]
                ^ table[3 &* 256 &+ Int(high & 0xFF)] ^ table[2 &* 256 &+ Int((high >> 8) & 0xFF)]
                ^ table[1 &* 256 &+ Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
            p += 8
            left &-= 8
        }
        while left > 0 {
            crc = table[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
            p += 1
            left -= 1
        }
        return ~crc
    }
}

/// The eight slicing tables of the reflected polynomial 0x82F63B78, built once.
private final class CRC32CTables: Sendable {
    /// `table[k * 256 + b]`: the CRC of byte `b` followed by `k` zero bytes.
    let table: [UInt32]

    static let shared = CRC32CTables()

    private init() {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[byte] = crc
        }
        for byte in 0..<256 {
            for k in 1..<8 {
                let previous = table[(k - 1) * 256 + byte]
                table[k * 256 + byte] = table[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        self.table = table
    }
}
