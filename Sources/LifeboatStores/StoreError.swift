/// A failure of a store operation. The code decides retries and exit status; the message says what
/// failed and what to do, and never holds a secret.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String { case notFound, unauthorized, unavailable, integrity, conflict, invalidName, storageFull, io }
        private let wrapped: Wrapped

        /// The object or folder does not exist.
        public static var notFound: Code { Code(wrapped: .notFound) }
        /// Credentials or permissions were refused.
        public static var unauthorized: Code { Code(wrapped: .unauthorized) }
        /// The store could not be reached or answered with a transient failure.
        public static var unavailable: Code { Code(wrapped: .unavailable) }
        /// What was stored is not what was sent.
        public static var integrity: Code { Code(wrapped: .integrity) }
        /// The object exists already, or the operation conflicts with another.
        public static var conflict: Code { Code(wrapped: .conflict) }
        /// The object name is not acceptable.
        public static var invalidName: Code { Code(wrapped: .invalidName) }
        /// The store refused the upload for lack of space or over its quota.
        public static var storageFull: Code { Code(wrapped: .storageFull) }
        /// A local input/output failure.
        public static var io: Code { Code(wrapped: .io) }

        /// Whether retrying the same operation may succeed.
        public var isRetryable: Bool { wrapped == .unavailable }
        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?
    /// Seconds the server asked to wait before trying again (`Retry-After`), when it said.
    public var retryAfter: Double?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil, retryAfter: Double? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.retryAfter = retryAfter
    }

    public var description: String {
        if let underlying, !message.contains("\(underlying)") { return "\(message): \(underlying)" }
        return message
    }
}

extension StoreError {
    /// A failed TLS handshake or certificate check, with what to do about it.
    static func tls(_ prefix: String, _ error: any Error, caFile: String?) -> StoreError {
        let hint =
            caFile == nil
            ? "; if the server's certificate comes from a private CA, set ca_file"
            : "; check that ca_file holds the CA that signed the server's certificate"
        return StoreError(.unauthorized, "\(prefix): TLS failed: \(error)\(hint)", underlying: error)
    }
}
