/// The textual header of an age v1 file: version line, recipient stanzas, MAC.
struct AgeHeader {
    static let versionLine = Array("age-encryption.org/v1".utf8)
    static let versionPrefix = Array("age-encryption.org/".utf8)

    var stanzas: [AgeStanza]
    /// The header bytes the MAC covers: from the version line up to and including `---`.
    var macInput: [UInt8]
    /// The 32-byte MAC from the `---` line.
    var mac: [UInt8]

    /// The MAC of `macInput` under `fileKey`: HMAC-SHA-256 keyed with HKDF(file key, "header").
    static func computeMAC(fileKey: [UInt8], over macInput: [UInt8]) throws -> [UInt8] {
        let key = try HKDFSHA256.derive(secret: fileKey, salt: [], info: Array("header".utf8), count: 32)
        return HMACSHA256.authenticate(key: key, message: macInput)
    }

    /// The header for `stanzas`, with its MAC, ready to write.
    static func encode(stanzas: [AgeStanza], fileKey: [UInt8]) throws -> [UInt8] {
        var out = versionLine + [0x0A]
        for stanza in stanzas { out += stanza.encoded() }
        out += Array("---".utf8)
        let mac = try computeMAC(fileKey: fileKey, over: out)
        out += Array(" ".utf8) + Base64Unpadded.encode(mac) + [0x0A]
        return out
    }

    /// Reads and strictly parses a header (grammar only; nothing is decrypted).
    ///
    /// Throws `.truncated` if the input ends inside the header, `.unsupported` for another version
    /// or ASCII armor, `.headerInvalid` for anything else that is not the v1 grammar, including an
    /// scrypt stanza next to other stanzas.
    static func read(from reader: AgeHeaderReader) throws -> AgeHeader {
        guard let version = try reader.line() else {
            if reader.isEmptyInput { throw AgeError(.truncated, "the archive is truncated: the file is empty") }
            throw AgeError(.truncated, "the archive is truncated: it ends inside the age header")
        }
        if version.elementsEqual(versionLine) {
            // v1
        } else if version.starts(with: Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)) {
            throw AgeError(.unsupported, "ASCII-armored age files are not supported: dearmor it first (age -d works)")
        } else if version.starts(with: versionPrefix), version.count > versionPrefix.count,
            version.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E })
        {
            let name = String(decoding: version.dropFirst(versionPrefix.count).prefix(32), as: UTF8.self)
            throw AgeError(.unsupported, "unsupported age format version \"\(name)\" (only v1 is supported)")
        } else {
            throw AgeError(.headerInvalid, "not an age file: the first line is not age-encryption.org/v1")
        }

        var stanzas: [AgeStanza] = []
        var lineNumber = 1
        func nextLine() throws -> ArraySlice<UInt8> {
            guard let line = try reader.line() else {
                throw AgeError(.truncated, "the archive is truncated: it ends inside the age header")
            }
            lineNumber += 1
            return line
        }

        while true {
            let lineStart = reader.offset
            let line = try nextLine()
            if line.starts(with: Array("---".utf8)) {
                guard !stanzas.isEmpty else {
                    throw AgeError(.headerInvalid, "the age header has no recipient stanzas")
                }
                let encodedMAC = line.dropFirst(4)
                guard line.count == 4 + 43, line[line.startIndex + 3] == 0x20,
                    let mac = Base64Unpadded.decode(encodedMAC), mac.count == 32
                else {
                    throw AgeError(.headerInvalid, "the age header's MAC line (line \(lineNumber)) is malformed")
                }
                let header = AgeHeader(
                    stanzas: stanzas, macInput: Array(reader.consumed(upTo: lineStart + 3)), mac: mac)
                try header.checkScryptIsAlone()
                return header
            }
            guard line.starts(with: Array("-> ".utf8)) else {
                throw AgeError(
                    .headerInvalid, "line \(lineNumber) of the age header is neither a stanza nor the MAC line")
            }
            let arguments = line.dropFirst(3).split(separator: 0x20, omittingEmptySubsequences: false)
            guard arguments.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 0x21 && $0 <= 0x7E } }) else {
                throw AgeError(
                    .headerInvalid,
                    "the stanza on line \(lineNumber) of the age header has an empty or invalid argument")
            }
            var bodyText: [UInt8] = []
            while true {
                let bodyLine = try nextLine()
                guard bodyLine.count <= 64, bodyLine.allSatisfy(Base64Unpadded.isAlphabet) else {
                    throw AgeError(
                        .headerInvalid, "line \(lineNumber) of the age header is not a valid stanza body line")
                }
                bodyText += bodyLine
                if bodyLine.count < 64 { break }
            }
            guard let body = Base64Unpadded.decode(bodyText) else {
                throw AgeError(
                    .headerInvalid, "the stanza ending on line \(lineNumber) has a non-canonical base64 body")
            }
            stanzas.append(AgeStanza(arguments: arguments.map { String(decoding: $0, as: UTF8.self) }, body: body))
        }
    }

    /// An scrypt stanza must be the only stanza (age spec: passphrase files are authenticated).
    private func checkScryptIsAlone() throws {
        if stanzas.count > 1, stanzas.contains(where: { $0.arguments.first == "scrypt" }) {
            throw AgeError(.headerInvalid, "the age header mixes an scrypt (passphrase) stanza with other stanzas")
        }
    }
}
