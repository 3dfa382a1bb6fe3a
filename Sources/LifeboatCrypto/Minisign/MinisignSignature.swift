import Foundation

/// A parsed `.minisig` file, as written by `minisign -S`.
///
/// ```
/// untrusted comment: signature from minisign secret key
/// RUSSUnjuGEVo0UXKm2O1GemH…        base64: algorithm (2) + key id (8) + Ed25519 signature (64)
/// trusted comment: timestamp:1795745837	file:feed.json
/// XNHOE//yzFXszKW6/u9pgBFg…        base64: Ed25519 over (signature ‖ trusted comment text)
/// ```
public struct MinisignSignature: Sendable, Equatable {
    /// What the signature covers.
    public enum Algorithm: Sendable, Equatable {
        /// `Ed`: Ed25519 over the message itself (minisign `-l`, and before 0.10 the default).
        case legacy
        /// `ED`: Ed25519 over the BLAKE2b-512 hash of the message (the default of minisign ≥ 0.10).
        case prehashed
    }

    /// The largest `.minisig` text accepted; minisign's own are about 300 bytes.
    public static let maximumTextLength = 4 << 10

    /// What the signature covers.
    public let algorithm: Algorithm
    /// The id of the key that made the signature.
    public let keyID: MinisignKeyID
    /// The 64-byte Ed25519 signature over the message (or its hash).
    public let signature: [UInt8]
    /// The trusted comment's text after `trusted comment: `; only trustworthy once verified.
    public let trustedComment: String
    /// The 64-byte Ed25519 signature over `signature` ‖ `trustedComment`.
    public let globalSignature: [UInt8]

    /// Parses the four lines of a `.minisig` file (LF or CRLF line ends, an optional final newline).
    ///
    /// Throws `MinisignError` with code `.malformedSignature` (or `.unsupportedAlgorithm`) saying which
    /// line is wrong and how.
    public init(_ text: String) throws {
        guard text.utf8.count <= Self.maximumTextLength else {
            throw MinisignError(
                .malformedSignature,
                "the signature is \(text.utf8.count) bytes, more than the \(Self.maximumTextLength) bytes a "
                    + ".minisig file can reasonably have; check that the signature URL serves a .minisig file")
        }
        // "\r\n" is one Character in Swift, so both line ends are matched here.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map(String.init)
        while lines.last == "" { lines.removeLast() }
        guard lines.count == 4 else {
            throw MinisignError(
                .malformedSignature,
                "a .minisig file has 4 lines (untrusted comment, signature, trusted comment, global "
                    + "signature); this one has \(lines.count)")
        }
        guard lines[0].hasPrefix(Minisign.untrustedCommentPrefix) else {
            throw MinisignError(
                .malformedSignature,
                "line 1 of the signature does not start with \"\(Minisign.untrustedCommentPrefix)\"")
        }
        guard let signatureLine = Data(base64Encoded: lines[1]).map(Array.init) else {
            throw MinisignError(.malformedSignature, "line 2 of the signature is not valid base64")
        }
        guard signatureLine.count == 74 else {
            throw MinisignError(
                .malformedSignature,
                "line 2 of the signature decodes to \(signatureLine.count) bytes; minisign writes 74 "
                    + "(algorithm 2, key id 8, signature 64)")
        }
        switch (signatureLine[0], signatureLine[1]) {
        case (UInt8(ascii: "E"), UInt8(ascii: "d")): algorithm = .legacy
        case (UInt8(ascii: "E"), UInt8(ascii: "D")): algorithm = .prehashed
        default:
            throw MinisignError(
                .unsupportedAlgorithm,
                "the signature algorithm is \(Minisign.describeAlgorithm(signatureLine[0..<2])); only \"Ed\" "
                    + "(legacy Ed25519) and \"ED\" (Ed25519 over BLAKE2b-512) are supported")
        }
        keyID = MinisignKeyID(signatureLine[2..<10])
        signature = Array(signatureLine[10..<74])
        guard lines[2].hasPrefix(Minisign.trustedCommentPrefix) else {
            throw MinisignError(
                .malformedSignature, "line 3 of the signature does not start with \"\(Minisign.trustedCommentPrefix)\"")
        }
        trustedComment = String(lines[2].dropFirst(Minisign.trustedCommentPrefix.count))
        guard let global = Data(base64Encoded: lines[3]).map(Array.init) else {
            throw MinisignError(
                .malformedSignature, "line 4 of the signature (the global signature) is not valid base64")
        }
        guard global.count == 64 else {
            throw MinisignError(
                .malformedSignature,
                "line 4 of the signature (the global signature) decodes to \(global.count) bytes; "
                    + "an Ed25519 signature has 64")
        }
        globalSignature = global
    }
}
