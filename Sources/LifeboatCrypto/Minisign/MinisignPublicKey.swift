import Foundation

/// A minisign public key: `Ed` + 8-byte key id + 32-byte Ed25519 public key, in base64.
///
/// It is what `minisign -G` prints after `-P` and the second line of a `.pub` file (`RW…`), which
/// is the form of the `firmware.public_key` configuration value.
public struct MinisignPublicKey: Sendable, Equatable {
    /// The key id, which every signature made with the matching secret key repeats.
    public let keyID: MinisignKeyID
    /// The 32 raw bytes of the Ed25519 public key.
    public let ed25519: [UInt8]

    /// Parses the base64 line, or the whole two-line `.pub` text (an `untrusted comment:` line, then
    /// the base64 line). Surrounding white space and a trailing newline are ignored.
    ///
    /// Throws `MinisignError` with code `.malformedKey` saying what is wrong.
    public init(_ text: String) throws {
        var lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if lines.count == 2, lines[0].hasPrefix("untrusted comment:") {
            lines.removeFirst()
        }
        guard lines.count == 1 else {
            throw MinisignError(
                .malformedKey,
                "a public key is one base64 line (RW…), optionally after an \"untrusted comment:\" line; "
                    + "got \(lines.count) lines")
        }
        guard let bytes = Data(base64Encoded: lines[0]).map(Array.init) else {
            throw MinisignError(.malformedKey, "the public key is not valid base64; check that it was copied whole")
        }
        guard bytes.count == 42 else {
            throw MinisignError(
                .malformedKey,
                "the public key decodes to \(bytes.count) bytes, a minisign public key has 42; "
                    + "check that it was copied whole")
        }
        guard bytes[0] == UInt8(ascii: "E"), bytes[1] == UInt8(ascii: "d") else {
            throw MinisignError(
                .malformedKey,
                "the public key's algorithm is \(Minisign.describeAlgorithm(bytes[0..<2])), "
                    + "a minisign public key has \"Ed\" (Ed25519)")
        }
        self.keyID = MinisignKeyID(bytes[2..<10])
        self.ed25519 = Array(bytes[10..<42])
    }
}

/// Constants and helpers shared by the minisign types.
enum Minisign {
    static let untrustedCommentPrefix = "untrusted comment: "
    static let trustedCommentPrefix = "trusted comment: "

    /// Two algorithm bytes as text for an error message: printable ASCII quoted, otherwise hex.
    static func describeAlgorithm(_ bytes: some Collection<UInt8>) -> String {
        if bytes.allSatisfy({ (0x21...0x7e).contains($0) }) {
            return "\"\(String(decoding: bytes, as: UTF8.self))\""
        }
        return "0x" + bytes.map { String($0, radix: 16, uppercase: true) }.joined()
    }
}
