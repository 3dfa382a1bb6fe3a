import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

private func hex(_ text: String) -> [UInt8] { Hex.decode(text)! }

@Suite struct SHA256Tests {
    @Test func knownAnswers() {
        // FIPS 180-2 examples.
        #expect(
            Hex.encode(SHA256Hasher.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Hex.encode(SHA256Hasher.hash([]))
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Hex.encode(SHA256Hasher.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func incrementalEqualsOneShotForAMillionAs() {
        let hasher = SHA256Hasher()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { piece.withUnsafeBytes { hasher.update($0) } }
        #expect(Hex.encode(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(hasher.finalize() == hasher.finalize(), "finalize is idempotent")
    }

    @Test func hashesAFileInPieces() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = TestSupport.pattern(700_001)
        try Data(data).write(to: URL(fileURLWithPath: directory + "/f"))
        #expect(try SHA256Hasher.hash(fileAt: directory + "/f") == SHA256Hasher.hash(data))
        let error = #expect(throws: CryptoError.self) { try SHA256Hasher.hash(fileAt: directory + "/missing") }
        #expect(error?.message.contains(directory + "/missing") == true)
    }

    @Test func hashingSinkAndSourceHashWhatPassesThrough() throws {
        let data = TestSupport.pattern(200_000)
        let memory = MemorySink()
        let sink = HashingSink(memory)
        try sink.write(Array(data[..<1]))
        try sink.write(Array(data[1...]))
        #expect(memory.bytes == data)
        #expect(sink.byteCount == 200_000)
        #expect(sink.finalize() == SHA256Hasher.hash(data))

        let source = HashingSource(TricklingSource(data, piece: 7777))
        let copied = try source.readAll()
        #expect(copied == data)
        #expect(source.byteCount == 200_000)
        #expect(source.finalize() == SHA256Hasher.hash(data))
    }
}

@Suite struct HMACSHA256Tests {
    // RFC 4231 test cases 1, 2, 3, 4, 6, 7 (case 5 is a truncated output).
    static let cases: [(key: String, data: String, mac: String)] = [
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", String(repeating: "dd", count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            "0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (
            String(repeating: "aa", count: 131),
            Hex.encode(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            String(repeating: "aa", count: 131),
            Hex.encode(
                Array(
                    ("This is a test using a larger than block-size key and a larger than block-size data. "
                        + "The key needs to be hashed before being used by the HMAC algorithm.").utf8)),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test(arguments: 0..<6)
    func rfc4231(_ index: Int) {
        let c = Self.cases[index]
        #expect(Hex.encode(HMACSHA256.authenticate(key: hex(c.key), message: hex(c.data))) == c.mac)
    }

    @Test func emptyKeyAndMessage() {
        // HMAC-SHA256("", "") from Python's hmac module.
        #expect(
            Hex.encode(HMACSHA256.authenticate(key: [], message: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }
}

@Suite struct HKDFSHA256Tests {
    @Test func rfc5869Case1() throws {
        let okm = try HKDFSHA256.derive(
            secret: [UInt8](repeating: 0x0b, count: 22), salt: hex("000102030405060708090a0b0c"),
            info: hex("f0f1f2f3f4f5f6f7f8f9"), count: 42)
        #expect(
            Hex.encode(okm)
                == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func rfc5869Case2LongInputs() throws {
        let okm = try HKDFSHA256.derive(
            secret: Array(0x00...0x4f), salt: Array(0x60...0xaf), info: Array(0xb0...0xff), count: 82)
        #expect(
            Hex.encode(okm)
                == "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
                + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
                + "cc30c58179ec3e87c14c01d5c1f3434f1d87"
        )
    }

    @Test func rfc5869Case3EmptySaltAndInfo() throws {
        let okm = try HKDFSHA256.derive(secret: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], count: 42)
        #expect(
            Hex.encode(okm)
                == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func refusesImpossibleLengths() {
        #expect(throws: CryptoError.self) { try HKDFSHA256.derive(secret: [1], salt: [], info: [], count: 0) }
        #expect(throws: CryptoError.self) { try HKDFSHA256.derive(secret: [1], salt: [], info: [], count: 8161) }
    }
}

@Suite struct HelperTests {
    @Test func constantTimeEquals() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }

    @Test func secureRandomReturnsFreshBytes() {
        #expect(SecureRandom.bytes(0).isEmpty)
        let a = SecureRandom.bytes(32)
        let b = SecureRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32)
        #expect(a != b)
    }
}
