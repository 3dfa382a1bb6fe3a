/// Adds the optional content checksum to the single zstd frame that libarchive 3.6.2 writes without one.
///
/// The frame format (RFC 8878 §3.1.1) allows a 32-bit checksum after the last block: the low 32 bits of the
/// XXH64 of the uncompressed content, little-endian, announced by bit 2 of the Frame_Header_Descriptor (the byte
/// after the 4-byte magic number). Every decoder (libarchive, `zstd`, GNU tar through `zstd`) verifies it, so a
/// flipped byte anywhere in the data makes decompression fail instead of returning altered content.
struct ZstdChecksum {
    /// Magic number plus the frame header descriptor.
    static let headerLength: Int64 = 5
    private static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    private static let checksumFlag: UInt8 = 0x04

    private var hash = XXH64()

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bytes)
    }

    /// The four bytes to append after the frame's last block.
    var trailer: UInt32 { UInt32(truncatingIfNeeded: hash.finalize()).littleEndian }

    /// Sets the checksum flag in the frame header, given the bytes at stream offset `deliveredBefore`.
    static func markFrameHeader(_ bytes: inout [UInt8], deliveredBefore: Int64) throws {
        for index in bytes.indices {
            let offset = deliveredBefore + Int64(index)
            if offset >= headerLength { break }
            if offset < 4 {
                guard bytes[index] == magic[Int(offset)] else {
                    throw ArchiveError(code: .format, message: "the compressor did not start a zstd frame")
                }
            } else {
                bytes[index] |= checksumFlag
            }
        }
    }
}
