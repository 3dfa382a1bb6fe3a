/// An archive could not be written, read or extracted.
///
/// The message keeps libarchive's own text (`archive_error_string`) or the failing system call and its `errno`.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; callers branch on it, never on the message.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Sendable { case io, format, unsafePath, unsupportedEntry, truncated }
        private let wrapped: Wrapped

        /// Reading, writing or creating files failed (disk full, permissions, a sink or source failure).
        public static var io: Code { Code(wrapped: .io) }
        /// The archive is malformed or corrupt, or the writer was used incorrectly.
        public static var format: Code { Code(wrapped: .format) }
        /// An entry's path would escape the extraction root or pass through a symlink.
        public static var unsafePath: Code { Code(wrapped: .unsafePath) }
        /// An entry type that is not supported here (hard links, devices, FIFOs).
        public static var unsupportedEntry: Code { Code(wrapped: .unsupportedEntry) }
        /// The archive ends before its end-of-archive marker, or an entry's data is short.
        public static var truncated: Code { Code(wrapped: .truncated) }

        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    /// What failed, in words; never contains file contents.
    public var message: String
    /// The entry path concerned, when there is one.
    public var path: String?

    public init(code: Code, message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path {
            return "archive error (\(code)): \(message): \(path)"
        }
        return "archive error (\(code)): \(message)"
    }
}
