import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

/// A measurement, not an assertion: run it in release mode with
/// `LIFEBOAT_THROUGHPUT=1 swift test -c release --filter AgeThroughputCheck`; with
/// `LIFEBOAT_THROUGHPUT_FILE=/path` it also encrypts that file read with read(2), to compare with
/// `time age -r age1… < /path > /dev/null`.
@Suite struct AgeThroughputCheck {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT"] == "1"))
    func encryptAndDecrypt512MiB() throws {
        let total = 512 << 20
        let piece = TestSupport.pattern(1 << 20)
        let recipient = try AgeX25519Identity.generate()

        let discard = DiscardingSink()
        var clock = ContinuousClock.now
        let encryptor = try AgeEncryptingSink(recipients: [.x25519(recipient.recipient)], output: discard)
        try piece.withUnsafeBytes { bytes in
            for _ in 0..<(total / piece.count) { try encryptor.write(bytes) }
        }
        try encryptor.finish()
        let encryptSeconds = seconds(ContinuousClock.now - clock)
        print(
            "age encrypt: \(total >> 20) MiB in \(encryptSeconds) s = \(Int(Double(total) / encryptSeconds / 1e6)) MB/s"
        )

        let sha = SHA256Hasher()
        clock = ContinuousClock.now
        piece.withUnsafeBytes { bytes in for _ in 0..<(total / piece.count) { sha.update(bytes) } }
        _ = sha.finalize()
        let shaSeconds = seconds(ContinuousClock.now - clock)
        print("sha256: \(Int(Double(total) / shaSeconds / 1e6)) MB/s")

        // Decrypt 128 MiB from memory (encrypted once into memory first).
        let small = 128 << 20
        let memory = MemorySink()
        let encryptor2 = try AgeEncryptingSink(recipients: [.x25519(recipient.recipient)], output: memory)
        try piece.withUnsafeBytes { bytes in for _ in 0..<(small / piece.count) { try encryptor2.write(bytes) } }
        try encryptor2.finish()
        clock = ContinuousClock.now
        let source = try AgeDecryptingSource(input: MemorySource(memory.bytes), identities: [.x25519(recipient)])
        let count = try source.copy(to: DiscardingSink())
        let decryptSeconds = seconds(ContinuousClock.now - clock)
        #expect(count == Int64(small))
        print("age decrypt: \(Int(Double(small) / decryptSeconds / 1e6)) MB/s")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT_FILE"] != nil))
    func encryptAFile() throws {
        let path = ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT_FILE"]!
        let recipient = try AgeX25519Identity.generate().recipient
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        let clock = ContinuousClock.now
        let discard = DiscardingSink()
        let encryptor = try AgeEncryptingSink(recipients: [.x25519(recipient)], output: discard)
        var total = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            try #require(n >= 0)
            if n == 0 { break }
            try encryptor.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += n
        }
        try encryptor.finish()
        let elapsed = seconds(ContinuousClock.now - clock)
        print("age encrypt from file: \(total >> 20) MiB in \(elapsed) s = \(Int(Double(total) / elapsed / 1e6)) MB/s")
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
