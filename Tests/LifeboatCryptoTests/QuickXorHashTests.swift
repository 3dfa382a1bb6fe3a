import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@Suite struct QuickXorHashTests {
    @Test func knownAnswers() {
        // Worked by hand from Microsoft's description: 'h' at bit 0, 'e' at bit 11, 'l' at bits 22
        // and 33, 'o' at bit 44; the length 5 in byte 12.
        #expect(QuickXorHash.base64(of: Array("hello".utf8)) == "aCgDG9jwBgAAAAAABQAAAAAAAAA=")
        #expect(QuickXorHash().base64 == "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        #expect(QuickXorHash().digest.count == 20)
        // One byte at position 160 lands on bit 0 again, like the byte at position 0.
        var twice = [UInt8](repeating: 0, count: 161)
        twice[0] = 0x5A
        twice[160] = 0x5A
        var hash = QuickXorHash()
        hash.update(twice)
        #expect(hash.digest == [UInt8](repeating: 0, count: 12) + [161, 0, 0, 0, 0, 0, 0, 0])
    }

    /// Every split, at every alignment and period phase, gives the one-shot hash.
    @Test func incrementalEqualsOneShot() {
        let data = TestSupport.pattern(2000, seed: 7)
        let whole = QuickXorHash.base64(of: data)
        for split in [0, 1, 7, 8, 19, 20, 21, 159, 160, 161, 319, 320, 999, 1999, 2000] {
            var hash = QuickXorHash()
            hash.update(Array(data[..<split]))
            hash.update(Array(data[split...]))
            #expect(hash.base64 == whole, "split at \(split)")
        }
        data.withUnsafeBytes { all in
            var hash = QuickXorHash()
            var offset = 0
            var piece = 1
            while offset < all.count {
                let end = min(all.count, offset + piece)
                hash.update(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
                piece = piece % 173 + 3
            }
            #expect(hash.base64 == whole)
        }
    }

    /// The same hashes as rclone's independent implementation (`rclone hashsum quickxor`, in hex: its
    /// `--base64` is the URL-safe alphabet, Microsoft's is the standard one), on sizes around the
    /// 20-byte width and the 160-byte period, and on larger random files.
    @Test func matchesRclone() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var sizes = [0, 1, 2, 8, 19, 20, 21, 159, 160, 161, 320, 1000, (1 << 20) + 7]
        sizes += (0..<4).map { _ in Int.random(in: 1...(3 << 20)) }
        var expected: [String: String] = [:]
        for (index, size) in sizes.enumerated() {
            let name = "file-\(index)-\(size).bin"
            let data = (0..<size).map { _ in UInt8.random(in: 0...255) }
            try Data(data).write(to: URL(fileURLWithPath: directory + "/" + name))
            var hash = QuickXorHash()
            hash.update(data)
            expected[name] = Hex.encode(hash.digest)
        }
        let result = try TestSupport.run(
            ["rclone", "hashsum", "quickxor", directory], environment: ["RCLONE_CONFIG": "/dev/null"])
        try #require(result.status == 0, "rclone failed: \(result.stderr)")
        var theirs: [String: String] = [:]
        for line in String(decoding: result.stdout, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard fields.count == 2 else { continue }
            theirs[fields[1].trimmingCharacters(in: .whitespaces)] = String(fields[0])
        }
        #expect(theirs.count == sizes.count, "rclone printed: \(String(decoding: result.stdout, as: UTF8.self))")
        for (name, hash) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(theirs[name] == hash, "\(name)")
        }
    }
}

/// A measurement, not an assertion: `LIFEBOAT_THROUGHPUT=1 swift test -c release --filter
/// QuickXorHashThroughputCheck` hashes 1 GiB from memory, a 1 MiB buffer (in cache) 1024 times and a
/// 256 MiB one (not in cache) 4 times (SharePoint uploads hash every archive).
@Suite struct QuickXorHashThroughputCheck {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT"] == "1"))
    func hash1GiB() {
        for size in [1 << 20, 256 << 20] {
            let buffer = TestSupport.pattern(size)
            let total = 1 << 30
            var hash = QuickXorHash()
            let start = ContinuousClock.now
            buffer.withUnsafeBytes { bytes in
                for _ in 0..<(total / size) { hash.update(bytes) }
            }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(hash.count == Int64(total))
            print(
                "quickxorhash: \(total >> 20) MiB from a \(size >> 20) MiB buffer in \(seconds) s = "
                    + "\(Int(Double(total) / seconds / 1e6)) MB/s")
        }
    }
}
