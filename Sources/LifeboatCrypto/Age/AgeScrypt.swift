/// The age `scrypt` recipient type: a passphrase stretched with scrypt wraps the file key.
enum AgeScrypt {
    static let saltLabel = Array("age-encryption.org/v1/scrypt".utf8)
    /// The work factors an encryptor accepts; 22 is the most a Lifeboat decryptor allows.
    static let encryptionWorkFactors = 1...22

    /// Wraps `fileKey` for `passphrase` with a fresh salt.
    static func wrap(_ fileKey: [UInt8], passphrase: String, workFactor: Int) throws -> AgeStanza {
        guard encryptionWorkFactors.contains(workFactor) else {
            throw AgeError(.unsupported, "the scrypt work factor must be between 1 and 22, not \(workFactor)")
        }
        guard !passphrase.isEmpty else { throw AgeError(.invalidKey, "the passphrase is empty") }
        let salt = SecureRandom.bytes(16)
        let key = try Scrypt.derive(
            passphrase: Array(passphrase.utf8), salt: saltLabel + salt, logN: workFactor, count: 32)
        let body = try ChaCha20Poly1305.seal(key: key, nonce: [UInt8](repeating: 0, count: 12), plaintext: fileKey)
        return AgeStanza(arguments: ["scrypt", Base64Unpadded.encodeString(salt), String(workFactor)], body: body)
    }

    /// Unwraps the file key from an `scrypt` stanza: nil if the stanza is of another type or the
    /// passphrase is wrong; throws `.headerInvalid` for a malformed stanza and `.unsupported` for a
    /// work factor above `maxWorkFactor`.
    static func unwrap(_ stanza: AgeStanza, passphrase: String, maxWorkFactor: Int) throws -> [UInt8]? {
        guard stanza.arguments.first == "scrypt" else { return nil }
        guard stanza.arguments.count == 3 else {
            throw AgeError(.headerInvalid, "the scrypt stanza has \(stanza.arguments.count - 1) arguments instead of 2")
        }
        guard let salt = Base64Unpadded.decode(stanza.arguments[1]), salt.count == 16 else {
            throw AgeError(.headerInvalid, "the scrypt stanza's salt is not canonical base64 of 16 bytes")
        }
        guard let workFactor = parseWorkFactor(stanza.arguments[2]) else {
            throw AgeError(
                .headerInvalid,
                "the scrypt stanza's work factor is not a decimal number from 1 to 63 without leading zeros")
        }
        guard workFactor <= maxWorkFactor else {
            throw AgeError(
                .unsupported,
                "the passphrase-encrypted file uses scrypt work factor \(workFactor), "
                    + "above the allowed maximum of \(maxWorkFactor)")
        }
        guard stanza.body.count == 32 else {
            throw AgeError(.headerInvalid, "the scrypt stanza's body is \(stanza.body.count) bytes instead of 32")
        }
        let key = try Scrypt.derive(
            passphrase: Array(passphrase.utf8), salt: saltLabel + salt, logN: workFactor, count: 32)
        return try ChaCha20Poly1305.open(key: key, nonce: [UInt8](repeating: 0, count: 12), ciphertext: stanza.body)
    }

    /// `^[1-9][0-9]*$`, 1 to 63.
    private static func parseWorkFactor(_ text: String) -> Int? {
        let digits = Array(text.utf8)
        guard let first = digits.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9"), digits.count <= 2,
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = Int(text), value < 64
        else { return nil }
        return value
    }
}
