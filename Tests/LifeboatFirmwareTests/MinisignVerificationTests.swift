import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

/// Minisign verification against signatures made by the real CLI (Debian's minisign 0.11):
/// prehashed (`ED`, the default) and legacy (`Ed`, `-l`).
@Suite struct MinisignVerificationTests {
    static let message = Array(#"{"product": "asterisk-pbx", "channel": "stable", "releases": []}"#.utf8)

    @Test func toolIsPresent() throws {
        let result = try FirmwareTestSupport.run(["minisign", "-v"])
        #expect(result.status == 0, "the minisign CLI is needed by these tests (apt install minisign)")
    }

    @Test func publicKeyParsesFromLineAndFile() throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let fromLine = try MinisignPublicKey(key.publicKeyLine())
        let fromFile = try MinisignPublicKey(key.publicKeyFile())
        #expect(fromLine == fromFile)
        #expect(fromLine.keyID.description == (try key.printedKeyID()))
        #expect(fromLine.ed25519.count == 32)
    }

    @Test func keyIDIsPrintedLikeMinisignWithoutLeadingZeros() throws {
        // minisign prints the little-endian id with "%" PRIX64: no zero padding.
        let id: [UInt8] = [0x33, 0xEB, 0x7C, 0x53, 0x42, 0x9F, 0xFD, 0x03]
        let key = try MinisignPublicKey(
            Data(Array("Ed".utf8) + id + [UInt8](repeating: 9, count: 32)).base64EncodedString())
        #expect(key.keyID.description == "3FD9F42537CEB33")
        #expect(key.keyID.bytes == id)
    }

    @Test(arguments: [false, true])
    func goodSignatureVerifiesAndReturnsTheTrustedComment(legacy: Bool) throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message, legacy: legacy, trustedComment: "feed 2026-11-20 stable")
        let signature = try MinisignSignature(text)
        #expect(signature.algorithm == (legacy ? .legacy : .prehashed))
        #expect(signature.keyID == (try key.publicKey().keyID))
        #expect(try key.publicKey().verify(Self.message, signature: signature) == "feed 2026-11-20 stable")
        #expect(
            try key.publicKey().verify(source: MemorySource(Self.message), signature: signature)
                == "feed 2026-11-20 stable")
    }

    @Test func defaultTrustedCommentIsReturnedVerbatim() throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message)
        let comment = try key.publicKey().verify(Self.message, signature: MinisignSignature(text))
        #expect(comment.hasPrefix("timestamp:"))
        #expect(comment.contains("\tfile:message-"))
    }

    @Test(arguments: [false, true])
    func emptyMessageVerifies(legacy: Bool) throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign([], legacy: legacy, trustedComment: "empty")
        #expect(try key.publicKey().verify([], signature: MinisignSignature(text)) == "empty")
        #expect(throws: MinisignError.self) { try key.publicKey().verify([0], signature: MinisignSignature(text)) }
    }

    @Test(arguments: [false, true])
    func oneFlippedByteIsRefused(legacy: Bool) throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let signature = try MinisignSignature(key.sign(Self.message, legacy: legacy))
        for offset in [0, Self.message.count / 2, Self.message.count - 1] {
            var altered = Self.message
            altered[offset] ^= 0x20
            let error = try #require(throws: MinisignError.self) {
                try key.publicKey().verify(altered, signature: signature)
            }
            #expect(error.code == .badSignature)
            #expect(error.message.contains("does not match the data"))
        }
        let truncated = Array(Self.message.dropLast())
        #expect(throws: MinisignError.self) { try key.publicKey().verify(truncated, signature: signature) }
    }

    @Test func anotherKeysSignatureIsRefusedNamingBothKeyIDs() throws {
        let signer = try MinisignCLIKey()
        let configured = try MinisignCLIKey()
        defer {
            signer.remove()
            configured.remove()
        }
        let signature = try MinisignSignature(signer.sign(Self.message))
        let error = try #require(throws: MinisignError.self) {
            try configured.publicKey().verify(Self.message, signature: signature)
        }
        #expect(error.code == .keyMismatch)
        #expect(error.message.contains(try signer.printedKeyID()))
        #expect(error.message.contains(try configured.printedKeyID()))
    }

    @Test(arguments: [false, true])
    func tamperedTrustedCommentIsRefused(legacy: Bool) throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message, legacy: legacy, trustedComment: "channel stable")
        let tampered = replacingLine(2, of: text, with: "trusted comment: channel beta")
        #expect(try !key.cliVerifies(Self.message, signature: tampered), "minisign itself refuses it")
        let error = try #require(throws: MinisignError.self) {
            try key.publicKey().verify(Self.message, signature: MinisignSignature(tampered))
        }
        #expect(error.code == .badTrustedComment)
    }

    @Test func tamperedGlobalSignatureIsRefused() throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message, trustedComment: "channel stable")
        for offset in [0, 31, 63] {
            let tampered = replacingLine(3, of: text, with: try flippingByte(offset, inBase64: line(3, of: text)))
            let error = try #require(throws: MinisignError.self) {
                try key.publicKey().verify(Self.message, signature: MinisignSignature(tampered))
            }
            #expect(error.code == .badTrustedComment)
        }
    }

    @Test func tamperedMessageSignatureIsRefused() throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message)
        // Byte 10 is the first byte of the Ed25519 signature (after algorithm and key id).
        let tampered = replacingLine(1, of: text, with: try flippingByte(10, inBase64: line(1, of: text)))
        let error = try #require(throws: MinisignError.self) {
            try key.publicKey().verify(Self.message, signature: MinisignSignature(tampered))
        }
        #expect(error.code == .badSignature)
    }

    @Test func legacySignatureOfAPrehashedOneIsRefused() throws {
        // Relabelling an "ED" signature as "Ed" must not verify: the algorithm byte is not trusted.
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message)
        var bytes = try #require(Data(base64Encoded: line(1, of: text)))
        bytes[1] = UInt8(ascii: "d")
        let relabelled = replacingLine(1, of: text, with: bytes.base64EncodedString())
        let error = try #require(throws: MinisignError.self) {
            try key.publicKey().verify(Self.message, signature: MinisignSignature(relabelled))
        }
        #expect(error.code == .badSignature)
    }

    @Test func crlfLineEndsAreAccepted() throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        let text = try key.sign(Self.message, trustedComment: "crlf")
        let crlf = text.split(separator: "\n").joined(separator: "\r\n") + "\r\n"
        #expect(try key.publicKey().verify(Self.message, signature: MinisignSignature(crlf)) == "crlf")
    }

    @Test func largeFileIsStreamedForPrehashedSignatures() throws {
        let key = try MinisignCLIKey()
        defer { key.remove() }
        var message = [UInt8](repeating: 0, count: 3 << 20)
        for i in message.indices { message[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        let path = key.directory + "/image.img"
        try Data(message).write(to: URL(fileURLWithPath: path))
        let prehashed = try MinisignSignature(key.sign(message, trustedComment: "image"))
        // A legacy limit far below the file size does not apply to prehashed signatures.
        #expect(try key.publicKey().verify(fileAt: path, signature: prehashed, legacyMessageLimit: 1024) == "image")

        let legacy = try MinisignSignature(key.sign(message, legacy: true, trustedComment: "image"))
        #expect(try key.publicKey().verify(fileAt: path, signature: legacy) == "image")
        let error = try #require(throws: MinisignError.self) {
            try key.publicKey().verify(fileAt: path, signature: legacy, legacyMessageLimit: 1 << 20)
        }
        #expect(error.code == .messageTooLarge)

        let missing = try #require(throws: MinisignError.self) {
            try key.publicKey().verify(fileAt: key.directory + "/missing.img", signature: prehashed)
        }
        #expect(missing.code == .unreadable)
        #expect(missing.message.contains("missing.img"))
    }

    static let garbageSignatures: [(String, String)] = [
        ("", "has 0"),
        ("hello", "has 1"),
        ("untrusted comment: x\nRWQ=\ntrusted comment: y\n", "has 3"),
        ("untrusted comment: x\na\nb\nc\nd\n", "has 5"),
        ("comment: x\nRWQ=\ntrusted comment: y\nAAAA", "line 1"),
        ("untrusted comment: x\n***\ntrusted comment: y\nAAAA", "line 2 of the signature is not valid base64"),
        ("untrusted comment: x\nRWQ=\ntrusted comment: y\nAAAA", "decodes to 2 bytes"),
        (
            "untrusted comment: x\n" + Data(Array("ED".utf8) + [UInt8](repeating: 7, count: 72)).base64EncodedString()
                + "\ncomment: y\nAAAA", "line 3"
        ),
        (
            "untrusted comment: x\n" + Data(Array("ED".utf8) + [UInt8](repeating: 7, count: 72)).base64EncodedString()
                + "\ntrusted comment: y\nAAAA", "global signature) decodes to 3 bytes"
        ),
        (String(repeating: "a", count: 5000), "more than the 4096 bytes"),
    ]

    @Test(arguments: garbageSignatures)
    func garbageSignatureIsRefusedWithAParseMessage(text: String, expected: String) throws {
        let error = try #require(throws: MinisignError.self) { try MinisignSignature(text) }
        #expect(error.code == .malformedSignature)
        #expect(error.message.contains(expected), "\(error.message)")
    }

    @Test func unknownAlgorithmIsRefused() throws {
        let line = Data(Array("EX".utf8) + [UInt8](repeating: 7, count: 72)).base64EncodedString()
        let global = Data([UInt8](repeating: 1, count: 64)).base64EncodedString()
        let error = try #require(throws: MinisignError.self) {
            try MinisignSignature("untrusted comment: x\n\(line)\ntrusted comment: y\n\(global)\n")
        }
        #expect(error.code == .unsupportedAlgorithm)
        #expect(error.message.contains("\"EX\""))
    }

    static let garbageKeys: [(String, String)] = [
        ("", "got 0 lines"),
        ("RW***", "not valid base64"),
        ("RWQ=", "decodes to 2 bytes"),
        (Data(Array("EX".utf8) + [UInt8](repeating: 7, count: 40)).base64EncodedString(), "\"EX\""),
        ("untrusted comment: a\nuntrusted comment: b\nRWQ=", "got 3 lines"),
    ]

    @Test(arguments: garbageKeys)
    func garbagePublicKeyIsRefused(text: String, expected: String) throws {
        let error = try #require(throws: MinisignError.self) { try MinisignPublicKey(text) }
        #expect(error.code == .malformedKey)
        #expect(error.message.contains(expected), "\(error.message)")
    }
}
