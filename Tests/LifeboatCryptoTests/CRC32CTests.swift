import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@Suite struct CRC32CTests {
    @Test func knownAnswers() {
        // The check value of CRC-32C, and the vectors of RFC 3720 §B.4.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func googleCloudStorageEncoding() {
        var crc = CRC32C()
        crc.update(Array("123456789".utf8))
        #expect(crc.bigEndianBytes == [0xE3, 0x06, 0x92, 0x83])
        #expect(crc.base64 == "4waSgw==")
        #expect(CRC32C().base64 == "AAAAAA==")
    }

    /// Every split of the input, at every alignment, gives the one-shot checksum: the byte loops
    /// before and after the eight-byte loop agree with it.
    @Test func incrementalEqualsOneShot() {
        let data = TestSupport.pattern(1000, seed: 42)
        let whole = CRC32C.checksum(data)
        for split in [0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 511, 999, 1000] {
            var crc = CRC32C()
            crc.update(Array(data[..<split]))
            crc.update(Array(data[split...]))
            #expect(crc.value == whole, "split at \(split)")
        }
        // Unaligned starts inside one buffer.
        data.withUnsafeBytes { all in
            for start in 0..<9 {
                var crc = CRC32C()
                crc.update(UnsafeRawBufferPointer(rebasing: all[start...]))
                var reference = CRC32C()
                reference.update(Array(data[start...]))
                #expect(crc.value == reference.value)
                #expect(crc.value == bitwise(Array(data[start...])), "start \(start)")
            }
        }
    }

    @Test func agreesWithBitwiseReferenceOnRandomInputs() {
        for length in [1, 2, 5, 8, 13, 64, 100, 4097] {
            let data = TestSupport.pattern(length, seed: UInt64(length) * 7919 + 1)
            #expect(CRC32C.checksum(data) == bitwise(data), "length \(length)")
        }
    }

    /// A measurement, not an assertion: `LIFEBOAT_THROUGHPUT=1 swift test -c release --filter CRC32CTests`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT"] == "1"))
    func throughput() {
        let piece = TestSupport.pattern(1 << 20)
        let total = 1 << 30
        var crc = CRC32C()
        let start = ContinuousClock.now
        piece.withUnsafeBytes { bytes in
            for _ in 0..<(total / piece.count) { crc.update(bytes) }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("crc32c: \(total >> 20) MiB in \(seconds) s = \(Int(Double(total) / seconds / 1e6)) MB/s (\(crc.value))")
    }

    /// The textbook bit-at-a-time CRC-32C, as the reference.
    private func bitwise(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
