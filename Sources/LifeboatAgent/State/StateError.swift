/// A failure of the state database, with a message that names the file and what to do.
public struct StateError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String { case unavailable, newerVersion, notFound }
        private let wrapped: Wrapped

        /// The database or its folder cannot be created, opened, read or written.
        public static var unavailable: Code { Code(wrapped: .unavailable) }
        /// A later version of Lifeboat has migrated the database; this one will not write to it.
        public static var newerVersion: Code { Code(wrapped: .newerVersion) }
        /// The run asked for is not in the database.
        public static var notFound: Code { Code(wrapped: .notFound) }

        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }
}
