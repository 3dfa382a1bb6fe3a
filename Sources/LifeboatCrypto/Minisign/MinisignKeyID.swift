/// The 8-byte id minisign gives a key pair and repeats in every signature it makes.
public struct MinisignKeyID: Hashable, Sendable, CustomStringConvertible {
    /// The 8 bytes as they appear in keys and signatures.
    public let bytes: [UInt8]

    init(_ bytes: some Collection<UInt8>) {
        precondition(bytes.count == 8)
        self.bytes = Array(bytes)
    }

    /// The id as minisign prints it: the bytes read as a little-endian 64-bit number, in upper-case
    /// hex without leading zeros (`D1684518EE785292`, and `3FD9F42537CEB33` when the top nibble is 0).
    public var description: String {
        String(bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }, radix: 16, uppercase: true)
    }
}
