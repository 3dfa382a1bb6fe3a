/// An age file could not be read or written: a malformed header, no matching identity, a corrupted
/// or truncated payload, or an unusable key.
///
/// The message says what is wrong in a sentence a user can act on; it never contains key material
/// or passphrases.
public struct AgeError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decisions (exit codes, retries) are made from the code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case headerInvalid, noMatchingIdentity, headerMACMismatch, payloadCorrupted, truncated
            case unsupported, invalidKey
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The header does not follow the age v1 grammar, or a stanza addressed to one of our
        /// identities is malformed.
        public static var headerInvalid: Code { Code(.headerInvalid) }
        /// The header is well formed but none of the identities unwraps a stanza.
        public static var noMatchingIdentity: Code { Code(.noMatchingIdentity) }
        /// A file key was unwrapped but the header MAC does not match: the header was altered.
        public static var headerMACMismatch: Code { Code(.headerMACMismatch) }
        /// A payload chunk failed authentication, or data follows the final chunk.
        public static var payloadCorrupted: Code { Code(.payloadCorrupted) }
        /// The file ends early: inside the header, before the nonce, or without a final chunk.
        public static var truncated: Code { Code(.truncated) }
        /// A feature or parameter this implementation does not accept (another format version,
        /// ASCII armor, an scrypt work factor above the limit, an scrypt recipient mixed with others).
        public static var unsupported: Code { Code(.unsupported) }
        /// A key or recipient string (or key file line) is not a valid age key.
        public static var invalidKey: Code { Code(.invalidKey) }

        public var description: String {
            switch wrapped {
            case .headerInvalid: "headerInvalid"
            case .noMatchingIdentity: "noMatchingIdentity"
            case .headerMACMismatch: "headerMACMismatch"
            case .payloadCorrupted: "payloadCorrupted"
            case .truncated: "truncated"
            case .unsupported: "unsupported"
            case .invalidKey: "invalidKey"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong, e.g. "the archive is truncated: the final STREAM chunk is missing".
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    init(_ code: Code, _ message: String) {
        self.init(code: code, message: message)
    }

    public var description: String { "age: \(message)" }
}
