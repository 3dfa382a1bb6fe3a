import LifeboatCrypto

/// A firmware version could not be parsed, or an update feed was refused.
///
/// The message names the values involved (both product names, both key ids, the dates) so that the
/// reason printed by `lifeboat firmware check` says what to fix; it never contains secrets.
public struct FirmwareError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decisions are made from the code, not the message.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case invalidVersion, tooLarge, badSignature, malformedFeed, productMismatch, channelMismatch
            case expired, stale, issuedInFuture, rollback, imageTooLarge, invalidRelease
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A version string is neither dotted numbers nor a semantic version.
        public static var invalidVersion: Code { Code(.invalidVersion) }
        /// The feed body or its `.minisig` is over the size limit; nothing of it was parsed.
        public static var tooLarge: Code { Code(.tooLarge) }
        /// The feed's minisign signature is malformed or does not verify against the configured
        /// public key; `underlying` is the `MinisignError`.
        public static var badSignature: Code { Code(.badSignature) }
        /// The signed feed is not the JSON the contract describes.
        public static var malformedFeed: Code { Code(.malformedFeed) }
        /// The feed is for another product.
        public static var productMismatch: Code { Code(.productMismatch) }
        /// The feed is for another channel.
        public static var channelMismatch: Code { Code(.channelMismatch) }
        /// The feed's `expires` time has passed (a replayed old feed, or a publisher that stopped).
        public static var expired: Code { Code(.expired) }
        /// The feed was issued longer ago than the configured maximum age.
        public static var stale: Code { Code(.stale) }
        /// The feed's `issued` time is in the future beyond the allowed clock skew.
        public static var issuedInFuture: Code { Code(.issuedInFuture) }
        /// The feed's newest release is older than the highest version seen before (rollback).
        public static var rollback: Code { Code(.rollback) }
        /// A release is larger than the configured maximum image size.
        public static var imageTooLarge: Code { Code(.imageTooLarge) }
        /// A release has a malformed SHA-256, a URL that is not https, or repeats a version.
        public static var invalidRelease: Code { Code(.invalidRelease) }

        public var description: String {
            switch wrapped {
            case .invalidVersion: "invalidVersion"
            case .tooLarge: "tooLarge"
            case .badSignature: "badSignature"
            case .malformedFeed: "malformedFeed"
            case .productMismatch: "productMismatch"
            case .channelMismatch: "channelMismatch"
            case .expired: "expired"
            case .stale: "stale"
            case .issuedInFuture: "issuedInFuture"
            case .rollback: "rollback"
            case .imageTooLarge: "imageTooLarge"
            case .invalidRelease: "invalidRelease"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong, e.g. "the feed is for product \"other-pbx\", but firmware.product is \"asterisk-pbx\"".
    public var message: String
    /// The error that caused this one (a `MinisignError` for `.badSignature`), if any.
    public var underlying: (any Error)?

    public init(code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.init(code: code, message: message, underlying: underlying)
    }

    public var description: String { "firmware: \(message)" }
}
