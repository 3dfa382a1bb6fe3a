/// A failure of a backup, restore, verify or prune operation, with a message that names what is wrong.
public struct BackupError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String {
            case sourceMissing, sourceUnreadable, integrity, notFound, targetNotEmpty, invalidArchive, allStoresFailed,
                busy, usage, cancelled
        }
        private let wrapped: Wrapped

        /// A configured source does not exist.
        public static var sourceMissing: Code { Code(wrapped: .sourceMissing) }
        /// A source exists but cannot be read or copied.
        public static var sourceUnreadable: Code { Code(wrapped: .sourceUnreadable) }
        /// Stored or restored bytes do not match their recorded digest, or a database copy fails its check.
        public static var integrity: Code { Code(wrapped: .integrity) }
        /// The snapshot, component or file asked for does not exist.
        public static var notFound: Code { Code(wrapped: .notFound) }
        /// The restore target holds files already.
        public static var targetNotEmpty: Code { Code(wrapped: .targetNotEmpty) }
        /// The archive is not a well-formed Lifeboat archive.
        public static var invalidArchive: Code { Code(wrapped: .invalidArchive) }
        /// No store accepted the snapshot.
        public static var allStoresFailed: Code { Code(wrapped: .allStoresFailed) }
        /// Another run of the same job holds the lock, or a database stayed locked.
        public static var busy: Code { Code(wrapped: .busy) }
        /// The request itself is wrong (an unknown component, conflicting options).
        public static var usage: Code { Code(wrapped: .usage) }
        /// The run was stopped from outside (the daemon is shutting down); uploads were aborted.
        public static var cancelled: Code { Code(wrapped: .cancelled) }

        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
