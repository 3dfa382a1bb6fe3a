import Foundation
import Testing

/// A received message taken apart by the tests, with decoders written independently of the
/// production encoders: RFC 5322 unfolding, RFC 2047 encoded-words (B and Q), RFC 2045
/// quoted-printable.
struct RawMail {
    let raw: [UInt8]
    /// The header lines as sent (folded), without CRLF.
    let headerLines: [String]
    /// Unfolded fields in order: name and value (leading whitespace of the value removed).
    let fields: [(name: String, value: String)]
    /// The body lines as sent, without CRLF.
    let bodyLines: [String]

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    init(_ raw: [UInt8]) throws {
        self.raw = raw
        let text = String(decoding: raw, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        guard let blank = lines.firstIndex(of: "") else {
            throw Malformed(description: "no empty line after the headers")
        }
        headerLines = Array(lines[..<blank])
        bodyLines = Array(lines[(blank + 1)...])
        var fields: [(String, String)] = []
        for line in headerLines {
            if line.hasPrefix(" ") || line.hasPrefix("\t") {
                guard !fields.isEmpty else { throw Malformed(description: "a folded line before any field") }
                fields[fields.count - 1].1 += line  // unfolding removes only the CRLF
            } else {
                guard let colon = line.firstIndex(of: ":") else { throw Malformed(description: "no colon in \(line)") }
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        self.fields = fields.map { ($0.0, String($0.1.drop(while: { $0 == " " || $0 == "\t" }))) }
    }

    /// The unfolded value of the only field called `name`; fails the test when there are several.
    func header(_ name: String) -> String? {
        let matches = fields.filter { $0.name.lowercased() == name.lowercased() }
        #expect(matches.count <= 1, "\(name) appears \(matches.count) times")
        return matches.first?.value
    }

    /// Every line break is CRLF: no CR without LF and no LF without CR.
    var hasOnlyCRLF: Bool {
        for (index, byte) in raw.enumerated() {
            if byte == 0x0D && (index + 1 >= raw.count || raw[index + 1] != 0x0A) { return false }
            if byte == 0x0A && (index == 0 || raw[index - 1] != 0x0D) { return false }
        }
        return true
    }

    /// The body, quoted-printable decoded, as UTF-8 text with LF line breaks.
    func decodedBody() throws -> String {
        try RawMail.decodeQuotedPrintable(bodyLines)
    }

    // MARK: Decoders

    /// RFC 2045 6.7: `=XX` is a byte, `=` at the end of a line is a soft break, other lines end with
    /// a hard break. Trailing whitespace must not occur (it would be stripped in transit).
    static func decodeQuotedPrintable(_ lines: [String]) throws -> String {
        var bytes: [UInt8] = []
        for (index, line) in lines.enumerated() {
            var chars = Array(line.utf8)
            guard chars.last != 0x20 && chars.last != 0x09 else {
                throw Malformed(description: "trailing whitespace in the quoted-printable line \(line)")
            }
            let soft = chars.last == UInt8(ascii: "=")
            if soft { chars.removeLast() }
            var i = 0
            while i < chars.count {
                if chars[i] == UInt8(ascii: "=") {
                    guard i + 2 < chars.count,
                        let byte = UInt8(String(decoding: chars[(i + 1)...(i + 2)], as: UTF8.self), radix: 16)
                    else { throw Malformed(description: "a broken =XX escape in \(line)") }
                    bytes.append(byte)
                    i += 3
                } else {
                    guard chars[i] < 0x80 else { throw Malformed(description: "an 8-bit byte in \(line)") }
                    bytes.append(chars[i])
                    i += 1
                }
            }
            if !soft && index < lines.count - 1 { bytes.append(0x0A) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Malformed(description: "the decoded body is not UTF-8")
        }
        return text
    }

    /// The text one quoted-printable line stands for on its own (soft break removed); throws when
    /// the line ends inside a UTF-8 character.
    static func decodeQuotedPrintableLine(_ line: String) throws -> String {
        try decodeQuotedPrintable([line.hasSuffix("=") ? line : line + "="])
    }

    /// An unstructured header value (or a phrase) with its encoded-words decoded. Whitespace between
    /// two adjacent encoded-words is dropped (RFC 2047 6.2). Each encoded-word must decode to valid
    /// UTF-8 on its own: a character split across two words is reported as malformed.
    static func decodeEncodedWords(_ value: String) throws -> String {
        var result = ""
        var pendingSpace = ""
        var previousWasEncoded = false
        var index = value.startIndex
        while index < value.endIndex {
            if value[index] == " " || value[index] == "\t" {
                pendingSpace.append(value[index])
                index = value.index(after: index)
                continue
            }
            let end = value[index...].firstIndex(where: { $0 == " " || $0 == "\t" }) ?? value.endIndex
            let token = String(value[index..<end])
            if let decoded = try decodeEncodedWord(token) {
                if !previousWasEncoded { result += pendingSpace }
                result += decoded
                previousWasEncoded = true
            } else {
                result += pendingSpace + token
                previousWasEncoded = false
            }
            pendingSpace = ""
            index = end
        }
        return result + pendingSpace
    }

    /// `=?charset?B|Q?text?=` decoded, or nil when `token` is not an encoded-word.
    static func decodeEncodedWord(_ token: String) throws -> String? {
        guard token.hasPrefix("=?"), token.hasSuffix("?="), token.count > 4 else { return nil }
        let parts = token.dropFirst(2).dropLast(2).split(separator: "?", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        guard parts[0].lowercased() == "utf-8" else { throw Malformed(description: "charset \(parts[0]) in \(token)") }
        #expect(token.count <= 75, "encoded-word longer than 75 characters: \(token)")
        let bytes: [UInt8]
        switch parts[1].uppercased() {
        case "B":
            guard let data = Data(base64Encoded: String(parts[2])) else {
                throw Malformed(description: "bad base64 in \(token)")
            }
            bytes = Array(data)
        case "Q":
            var out: [UInt8] = []
            var chars = Array(parts[2].utf8)[...]
            while let c = chars.first {
                chars = chars.dropFirst()
                if c == UInt8(ascii: "_") {
                    out.append(0x20)
                } else if c == UInt8(ascii: "="), chars.count >= 2,
                    let byte = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)
                {
                    out.append(byte)
                    chars = chars.dropFirst(2)
                } else {
                    out.append(c)
                }
            }
            bytes = out
        default:
            throw Malformed(description: "encoding \(parts[1]) in \(token)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Malformed(description: "\(token) does not hold whole UTF-8 characters")
        }
        return text
    }
}
