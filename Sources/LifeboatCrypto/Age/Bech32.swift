/// Bech32 (BIP 173) without the 90-character limit, as age keys use it.
enum Bech32 {
    private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in charset.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    private static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// Regroups bits, e.g. 8-bit bytes into 5-bit groups; nil if padding is invalid when decoding.
    private static func convert(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        var out: [UInt8] = []
        let maxValue = (1 << to) - 1
        for value in data {
            accumulator = accumulator << from | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8(accumulator >> bits & maxValue))
            }
            accumulator &= (1 << bits) - 1
        }
        if pad {
            if bits > 0 { out.append(UInt8(accumulator << (to - bits) & maxValue)) }
        } else if bits >= from || accumulator != 0 {
            return nil
        }
        return out
    }

    /// Encodes `data` under `hrp` (lower case) in lower case.
    static func encode(hrp: String, data: [UInt8]) -> String {
        let hrpBytes = Array(hrp.lowercased().utf8)
        let groups = convert(data, from: 8, to: 5, pad: true)!
        let mod = polymod(expand(hrpBytes) + groups + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8(mod >> UInt32(5 * (5 - $0)) & 31) }
        return String(
            decoding: hrpBytes + [UInt8(ascii: "1")] + (groups + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    /// Decodes a Bech32 string; returns the HRP in the case it was written in and the data bytes.
    /// Nil for mixed case, bad characters, a bad checksum or bad padding.
    static func decode(_ text: String) -> (hrp: String, data: [UInt8])? {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 >= 33 && $0 <= 126 }) else { return nil }
        let hasLower = bytes.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
        let hasUpper = bytes.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if hasLower && hasUpper { return nil }
        guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")), separator >= 1, bytes.count - separator - 1 >= 6
        else { return nil }
        let hrpOriginal = Array(bytes[..<separator])
        let lower = bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        var groups: [UInt8] = []
        for c in lower[(separator + 1)...] {
            guard c < 128, values[Int(c)] >= 0 else { return nil }
            groups.append(UInt8(values[Int(c)]))
        }
        guard polymod(expand(Array(lower[..<separator])) + groups) == 1 else { return nil }
        guard let data = convert(Array(groups.dropLast(6)), from: 5, to: 8, pad: false) else { return nil }
        return (String(decoding: hrpOriginal, as: UTF8.self), data)
    }
}
