/// A minisign public key or signature could not be read, or a signature does not verify.
///
/// The message says what is wrong and what to check; key ids appear as minisign prints them
/// (upper-case hex, as in its `.pub` comment), never any key material beyond that.
public struct MinisignError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decisions are made from the code, not the message.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case malformedKey, malformedSignature, unsupportedAlgorithm, keyMismatch, badSignature
            case badTrustedComment, messageTooLarge, unreadable
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The public key is not base64 of `Ed` + 8-byte key id + 32-byte Ed25519 key.
        public static var malformedKey: Code { Code(.malformedKey) }
        /// The `.minisig` text does not have the four lines minisign writes, or a line has the wrong
        /// prefix, base64 or length, or the text is over the size limit.
        public static var malformedSignature: Code { Code(.malformedSignature) }
        /// The signature algorithm is neither `Ed` (legacy) nor `ED` (prehashed).
        public static var unsupportedAlgorithm: Code { Code(.unsupportedAlgorithm) }
        /// The signature was made by another key than the configured one.
        public static var keyMismatch: Code { Code(.keyMismatch) }
        /// The signature does not match the message: the file was altered or is not the signed one.
        public static var badSignature: Code { Code(.badSignature) }
        /// The global signature does not match the trusted comment: the comment was altered.
        public static var badTrustedComment: Code { Code(.badTrustedComment) }
        /// A message to be checked against a legacy (`Ed`) signature is over the in-memory limit.
        public static var messageTooLarge: Code { Code(.messageTooLarge) }
        /// The signed file could not be read.
        public static var unreadable: Code { Code(.unreadable) }

        public var description: String {
            switch wrapped {
            case .malformedKey: "malformedKey"
            case .malformedSignature: "malformedSignature"
            case .unsupportedAlgorithm: "unsupportedAlgorithm"
            case .keyMismatch: "keyMismatch"
            case .badSignature: "badSignature"
            case .badTrustedComment: "badTrustedComment"
            case .messageTooLarge: "messageTooLarge"
            case .unreadable: "unreadable"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong, e.g. "the signature was made with key id 96375449A7CEB790, but the public
    /// key has key id D1684518EE785292".
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    init(_ code: Code, _ message: String) {
        self.init(code: code, message: message)
    }

    public var description: String { "minisign: \(message)" }
}
