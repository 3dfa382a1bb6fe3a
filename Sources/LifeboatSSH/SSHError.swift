/// A failure of an SSH connection or an SFTP request.
///
/// The message says what failed in this module's words and then gives libssh's own text
/// (`ssh_get_error`); it never contains a password or a passphrase. The kind decides retries:
/// only connection problems (refused, reset, timed out, closed) are worth trying again.
public struct SSHError: Error, Sendable, CustomStringConvertible {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String {
            case connection, hostKeyUnknown, hostKeyChanged, authentication, notFound, permissionDenied,
                writeRefused, failure
        }
        private let wrapped: Wrapped

        /// The server could not be reached, or the connection broke (refused, reset, timed out, EOF).
        public static var connection: Kind { Kind(wrapped: .connection) }
        /// The server's host key is not in the known_hosts file.
        public static var hostKeyUnknown: Kind { Kind(wrapped: .hostKeyUnknown) }
        /// The known_hosts file lists another key for the server: a reinstalled server, or an attack.
        public static var hostKeyChanged: Kind { Kind(wrapped: .hostKeyChanged) }
        /// The server refused the login, or the private key could not be read.
        public static var authentication: Kind { Kind(wrapped: .authentication) }
        /// The file or folder does not exist (`SSH_FX_NO_SUCH_FILE`, `SSH_FX_NO_SUCH_PATH`).
        public static var notFound: Kind { Kind(wrapped: .notFound) }
        /// The server refused access to the path (`SSH_FX_PERMISSION_DENIED`, `SSH_FX_WRITE_PROTECT`).
        public static var permissionDenied: Kind { Kind(wrapped: .permissionDenied) }
        /// The server answered a write with `SSH_FX_FAILURE`: OpenSSH does so for a full disk, a
        /// quota or a file size limit.
        public static var writeRefused: Kind { Kind(wrapped: .writeRefused) }
        /// Any other failure the server or libssh reported.
        public static var failure: Kind { Kind(wrapped: .failure) }

        public var description: String { wrapped.rawValue }
    }

    public var kind: Kind
    /// What failed and why, ending with libssh's text.
    public var message: String
    /// The SFTP status of the failed request (`SSH_FX_*`), when the server sent one.
    public var sftpStatus: SFTPStatus?
    /// The key the server offered, for host key failures.
    public var offeredHostKey: SSHHostKey?

    public init(_ kind: Kind, _ message: String, sftpStatus: SFTPStatus? = nil, offeredHostKey: SSHHostKey? = nil) {
        self.kind = kind
        self.message = message
        self.sftpStatus = sftpStatus
        self.offeredHostKey = offeredHostKey
    }

    /// Whether the same operation may succeed on a new connection.
    public var isRetryable: Bool { kind == .connection }

    public var description: String { message }
}
