import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@Suite struct AgeStreamingTests {
    static let chunk = 64 << 10
    let identity: AgeX25519Identity
    let recipient: AgeRecipient

    init() throws {
        identity = try AgeX25519Identity.generate()
        recipient = .x25519(identity.recipient)
    }

    /// The header length of a file for one X25519 recipient.
    func headerLength(_ file: [UInt8]) throws -> Int {
        let mac = try #require(file.firstRange(of: Array("\n--- ".utf8)))
        return try #require(file[mac.upperBound...].firstIndex(of: 0x0A)) + 1
    }

    func decrypt(_ file: [UInt8], readSize: Int = 64 << 10, inputPiece: Int = .max) -> TestSupport.Decryption {
        TestSupport.decrypt(file, identities: [.x25519(identity)], readSize: readSize, inputPiece: inputPiece)
    }

    @Test(arguments: [0, 1, 100, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 1, 300_000])
    func roundTripsAndUsesExactlyTheRightChunks(_ size: Int) throws {
        let plaintext = TestSupport.pattern(size, seed: UInt64(size) + 1)
        let file = try TestSupport.encrypt(plaintext, to: [recipient])
        // 16-byte nonce, then one tag per chunk; the final chunk is full when the size is a
        // multiple of 64 KiB, and empty only for an empty payload.
        let chunks = max(1, (size + Self.chunk - 1) / Self.chunk)
        #expect(file.count == (try headerLength(file)) + 16 + size + 16 * chunks)
        let result = decrypt(file)
        #expect(result.error == nil, "\(String(describing: result.error))")
        #expect(result.plaintext == plaintext)
    }

    @Test(arguments: [1, 7, 100 << 10])
    func oddWriteAndReadSizesGiveTheSameOutput(_ piece: Int) throws {
        let plaintext = TestSupport.pattern(3 * Self.chunk + 12345)
        let file = try TestSupport.encrypt(plaintext, to: [recipient], piece: piece)
        let result = decrypt(file, readSize: piece, inputPiece: piece)
        #expect(result.error == nil, "\(String(describing: result.error))")
        #expect(result.plaintext == plaintext)
        // A source that returns few bytes per read still yields everything, for any read size.
        #expect(decrypt(file, readSize: 100 << 10, inputPiece: 7).plaintext == plaintext)
        #expect(decrypt(file, readSize: 1, inputPiece: 100 << 10).plaintext == plaintext)
    }

    @Test func everyRecipientCanOpenAFileWithSeveral() throws {
        let others = try (0..<2).map { _ in try AgeX25519Identity.generate() }
        let plaintext = TestSupport.pattern(150_000)
        let file = try TestSupport.encrypt(
            plaintext, to: [recipient] + others.map { .x25519($0.recipient) })
        for key in [identity] + others {
            let result = TestSupport.decrypt(file, identities: [.x25519(key)])
            #expect(result.error == nil)
            #expect(result.plaintext == plaintext)
        }
        // Several identities, only the last one matching.
        let stranger = try AgeX25519Identity.generate()
        let result = TestSupport.decrypt(file, identities: [.x25519(stranger), .x25519(others[1])])
        #expect(result.plaintext == plaintext)
    }

    @Test func wrongIdentityFindsNoMatch() throws {
        let file = try TestSupport.encrypt([1, 2, 3], to: [recipient])
        let result = TestSupport.decrypt(file, identities: [.x25519(try AgeX25519Identity.generate())])
        #expect((result.error as? AgeError)?.code == .noMatchingIdentity)
        #expect(result.failedInHeader)
        let passphraseOnly = TestSupport.decrypt(file, identities: [.scrypt(passphrase: "x", maxWorkFactor: 22)])
        #expect((passphraseOnly.error as? AgeError)?.code == .noMatchingIdentity)
        #expect(TestSupport.decrypt(file, identities: []).error.map { ($0 as? AgeError)?.code } == .noMatchingIdentity)
    }

    @Test func passphrasesRoundTripAndWrongOnesFindNoMatch() throws {
        let plaintext = TestSupport.pattern(70_000)
        let file = try TestSupport.encrypt(plaintext, to: [.scrypt(passphrase: "correct horse", workFactor: 10)])
        #expect(String(decoding: file.prefix(200), as: UTF8.self).contains("-> scrypt "))
        let good = TestSupport.decrypt(file, identities: [.scrypt(passphrase: "correct horse", maxWorkFactor: 22)])
        #expect(good.error == nil)
        #expect(good.plaintext == plaintext)
        let bad = TestSupport.decrypt(file, identities: [.scrypt(passphrase: "correct horsE", maxWorkFactor: 22)])
        #expect((bad.error as? AgeError)?.code == .noMatchingIdentity)
        #expect(bad.plaintext.isEmpty)
        let keyOnly = TestSupport.decrypt(file, identities: [.x25519(identity)])
        #expect((keyOnly.error as? AgeError)?.code == .noMatchingIdentity)
    }

    @Test func workFactorAboveTheMaximumIsRefused() throws {
        let file = try TestSupport.encrypt([1], to: [.scrypt(passphrase: "p", workFactor: 12)])
        let result = TestSupport.decrypt(file, identities: [.scrypt(passphrase: "p", maxWorkFactor: 11)])
        let error = try #require(result.error as? AgeError)
        #expect(error.code == .unsupported)
        #expect(error.message.contains("12"))
        #expect(TestSupport.decrypt(file, identities: [.scrypt(passphrase: "p", maxWorkFactor: 12)]).plaintext == [1])
    }

    @Test func scryptRecipientsMustBeAlone() throws {
        let scrypt = AgeRecipient.scrypt(passphrase: "p", workFactor: 10)
        for recipients in [[scrypt, recipient], [recipient, scrypt], [scrypt, scrypt]] {
            let error = #expect(throws: AgeError.self) {
                try AgeEncryptingSink(recipients: recipients, output: MemorySink())
            }
            #expect(error?.code == .unsupported)
        }
        #expect(throws: AgeError.self) { try AgeEncryptingSink(recipients: [], output: MemorySink()) }
        #expect(throws: AgeError.self) {
            try AgeEncryptingSink(recipients: [.scrypt(passphrase: "", workFactor: 10)], output: MemorySink())
        }
    }

    @Test func nothingIsWrittenAfterFinish() throws {
        let sink = MemorySink()
        let encryptor = try AgeEncryptingSink(recipients: [recipient], output: sink)
        try encryptor.write([1, 2, 3])
        try encryptor.finish()
        let length = sink.bytes.count
        #expect(throws: AgeError.self) { try encryptor.write([4]) }
        #expect(throws: AgeError.self) { try encryptor.finish() }
        #expect(sink.bytes.count == length)
        #expect(decrypt(sink.bytes).plaintext == [1, 2, 3])
    }

    // MARK: - Tampering

    /// A three-chunk file (the last chunk short) and its plaintext.
    func threeChunks() throws -> (file: [UInt8], plaintext: [UInt8], payloadStart: Int) {
        let plaintext = TestSupport.pattern(2 * Self.chunk + 1000)
        let file = try TestSupport.encrypt(plaintext, to: [recipient])
        return (file, plaintext, try headerLength(file) + 16)
    }

    func expectFailure(
        _ file: [UInt8], _ code: AgeError.Code, released: ArraySlice<UInt8>, inHeader: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let result = decrypt(file)
        #expect(
            (result.error as? AgeError)?.code == code, "\(String(describing: result.error))",
            sourceLocation: sourceLocation)
        #expect(result.failedInHeader == inHeader, sourceLocation: sourceLocation)
        #expect(
            result.plaintext == Array(released), "released \(result.plaintext.count) bytes",
            sourceLocation: sourceLocation)
    }

    @Test func flippedBytesInTheHeaderAreCaught() throws {
        let (file, _, payloadStart) = try threeChunks()
        let text = String(decoding: file[..<(payloadStart - 16)], as: UTF8.self)
        // In the version line.
        var version = file
        version[3] ^= 0x01
        expectFailure(version, .headerInvalid, released: [], inHeader: true)
        // In the MAC: swap its first character for another base64 character.
        var mac = file
        let macAt = try #require(text.range(of: "--- ")).upperBound.utf16Offset(in: text)
        mac[macAt] = mac[macAt] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        expectFailure(mac, .headerMACMismatch, released: [], inHeader: true)
        // In the stanza body (the wrapped file key): the tag fails, so nothing matches.
        var body = file
        let bodyAt = try #require(text.range(of: "\n", range: text.range(of: "-> X25519 ")!.upperBound..<text.endIndex))
            .upperBound.utf16Offset(in: text)
        body[bodyAt] = body[bodyAt] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        expectFailure(body, .noMatchingIdentity, released: [], inHeader: true)
        // An unknown stanza added: still parses and unwraps, but the MAC no longer matches.
        let stanzaEnd = try #require(text.range(of: "\n---")).lowerBound.utf16Offset(in: text) + 1
        let grease = Array(file[..<stanzaEnd]) + Array("-> grease x\nAAAA\n".utf8) + Array(file[stanzaEnd...])
        expectFailure(grease, .headerMACMismatch, released: [], inHeader: true)
    }

    @Test func flippedBytesInThePayloadStopAtTheDamagedChunk() throws {
        let (file, plaintext, start) = try threeChunks()
        let encrypted = Self.chunk + 16
        for (offset, released) in [
            (start - 3, 0),  // the payload nonce: the key is wrong, the first chunk fails
            (start + 10, 0),  // first chunk
            (start + encrypted + encrypted / 2, Self.chunk),  // middle of the second chunk
            (start + 2 * encrypted + 500, 2 * Self.chunk),  // the last chunk
            (file.count - 1, 2 * Self.chunk),  // the last tag
        ] {
            var damaged = file
            damaged[offset] ^= 0x40
            expectFailure(damaged, .payloadCorrupted, released: plaintext[..<released])
        }
    }

    @Test func truncationIsNeverSuccess() throws {
        let (file, plaintext, start) = try threeChunks()
        let encrypted = Self.chunk + 16
        // Inside the header and before the nonce: the header stage reports it.
        expectFailure(Array(file[..<20]), .truncated, released: [], inHeader: true)
        expectFailure(Array(file[..<(start - 16)]), .truncated, released: [], inHeader: true)
        expectFailure(Array(file[..<(start - 5)]), .truncated, released: [], inHeader: true)
        // Right after the nonce, and at each chunk boundary: the final chunk is missing.
        expectFailure(Array(file[..<start]), .truncated, released: [])
        expectFailure(Array(file[..<(start + encrypted)]), .truncated, released: plaintext[..<Self.chunk])
        expectFailure(Array(file[..<(start + 2 * encrypted)]), .truncated, released: plaintext[..<(2 * Self.chunk)])
        // Fewer bytes than a tag after a boundary.
        expectFailure(Array(file[..<(start + encrypted + 9)]), .truncated, released: plaintext[..<Self.chunk])
        // Inside a chunk: it cannot authenticate, whether it was meant to be final or not.
        expectFailure(Array(file[..<(start + encrypted + 1000)]), .payloadCorrupted, released: plaintext[..<Self.chunk])
        expectFailure(Array(file.dropLast()), .payloadCorrupted, released: plaintext[..<(2 * Self.chunk)])
    }

    @Test func truncationOfAFileEndingInAFullChunk() throws {
        let plaintext = TestSupport.pattern(2 * Self.chunk)
        let file = try TestSupport.encrypt(plaintext, to: [recipient])
        let start = try headerLength(file) + 16
        #expect(decrypt(file).plaintext == plaintext)
        expectFailure(Array(file[..<(start + Self.chunk + 16)]), .truncated, released: plaintext[..<Self.chunk])
    }

    @Test func appendedGarbageIsCaughtAfterTheFinalChunk() throws {
        let (file, plaintext, _) = try threeChunks()
        // A short final chunk followed by data is no longer a valid final chunk.
        expectFailure(file + [0], .payloadCorrupted, released: plaintext[..<(2 * Self.chunk)])
        expectFailure(
            file + TestSupport.pattern(Self.chunk + 100), .payloadCorrupted, released: plaintext[..<(2 * Self.chunk)])

        // A full final chunk followed by data: released (it verified as final), then refused.
        let full = TestSupport.pattern(Self.chunk)
        let fullFile = try TestSupport.encrypt(full, to: [recipient])
        expectFailure(fullFile + [0], .payloadCorrupted, released: full[...])
        expectFailure(fullFile + TestSupport.pattern(200), .payloadCorrupted, released: full[...])
        // An empty payload's final chunk followed by garbage.
        let empty = try TestSupport.encrypt([], to: [recipient])
        expectFailure(empty + [1, 2, 3], .payloadCorrupted, released: [])
    }

    @Test func failuresAreSticky() throws {
        let (file, _, start) = try threeChunks()
        let source = try AgeDecryptingSource(
            input: MemorySource(Array(file[..<(start + Self.chunk + 16)])), identities: [.x25519(identity)])
        var buffer = [UInt8](repeating: 0, count: 2 * Self.chunk)
        #expect(try buffer.withUnsafeMutableBytes { try source.read(into: $0) } == Self.chunk)
        for _ in 0..<2 {
            let error = #expect(throws: AgeError.self) {
                _ = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            }
            #expect(error?.code == .truncated)
            #expect(error?.message.contains("final STREAM chunk is missing") == true)
        }
    }
}
