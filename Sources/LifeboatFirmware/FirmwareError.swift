import LifeboatCrypto

/// A firmware version could not be parsed, an update feed or image was refused or could not be
/// fetched, or a maintenance window is invalid.
///
/// The message names the values involved (both product names, both key ids, the dates, the URL) so
/// that the reason printed by `lifeboat firmware check` says what to fix; it never contains secrets
/// (URLs with credentials are refused before anything is fetched).
public struct FirmwareError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decisions are made from the code, not the message.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case invalidVersion, tooLarge, badSignature, malformedFeed, productMismatch, channelMismatch
            case expired, stale, issuedInFuture, rollback, imageTooLarge, invalidRelease
            case invalidURL, unavailable, tls, notFound, httpStatus, transferFailed, cancelled
            case sizeMismatch, hashMismatch, io, invalidWindow
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
        /// A feed or image URL is not https (plain http needs `allow_insecure`), is malformed, or
        /// holds credentials; nothing was fetched.
        public static var invalidURL: Code { Code(.invalidURL) }
        /// The server could not be reached, the connection broke, the transfer stalled or timed out,
        /// or the server answered 408, 429 or 5xx: try again later (`isRetryable`). A partial image
        /// download is kept and resumed.
        public static var unavailable: Code { Code(.unavailable) }
        /// The TLS handshake or the certificate check failed (`ca_file` missing or wrong).
        public static var tls: Code { Code(.tls) }
        /// The server answered 404 or 410, e.g. for a missing `.minisig`.
        public static var notFound: Code { Code(.notFound) }
        /// The server answered another status that is not a success (3xx: redirects are not
        /// followed; 4xx).
        public static var httpStatus: Code { Code(.httpStatus) }
        /// libcurl failed for another reason (a local problem, an unsupported answer).
        public static var transferFailed: Code { Code(.transferFailed) }
        /// The caller cancelled the transfer.
        public static var cancelled: Code { Code(.cancelled) }
        /// The server sent more bytes than the release's declared size (or than the range asked
        /// for), or says the image has another size; the partial download was deleted.
        public static var sizeMismatch: Code { Code(.sizeMismatch) }
        /// The downloaded image's SHA-256 is not the one the feed declares; the partial download
        /// was deleted.
        public static var hashMismatch: Code { Code(.hashMismatch) }
        /// A local file operation failed (disk full, permissions) in the download directory.
        public static var io: Code { Code(.io) }
        /// A maintenance window setting is not valid; the message names the setting and the value.
        public static var invalidWindow: Code { Code(.invalidWindow) }

        /// Whether the same operation may succeed later without any change of configuration.
        public var isRetryable: Bool { wrapped == .unavailable }

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
            case .invalidURL: "invalidURL"
            case .unavailable: "unavailable"
            case .tls: "tls"
            case .notFound: "notFound"
            case .httpStatus: "httpStatus"
            case .transferFailed: "transferFailed"
            case .cancelled: "cancelled"
            case .sizeMismatch: "sizeMismatch"
            case .hashMismatch: "hashMismatch"
            case .io: "io"
            case .invalidWindow: "invalidWindow"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong, e.g. "the feed is for product \"other-pbx\", but firmware.product is \"asterisk-pbx\"".
    public var message: String
    /// The error that caused this one (a `MinisignError` for `.badSignature`, a `CurlError` for a
    /// failed transfer), if any.
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
