import CSSH
import LifeboatCore

#if canImport(Glibc)
    import Glibc
#endif

/// An SFTP session (libssh's `sftp_session`) on an ``SSHSession``, freed when the object goes away.
///
/// Paths are the server's: relative ones start at the login's folder. Calls block and are made
/// from one thread at a time (see ``SSHSession``).
public final class SFTPClient {
    /// The largest payload of one `SSH_FXP_WRITE`. OpenSSH accepts messages up to 256 KiB; a single
    /// 256 KiB write made it drop the session and leave a truncated file, and 128 KiB writes were
    /// the fastest that worked.
    public static let maxWriteSize = 128 << 10
    /// The largest read requested at once (OpenSSH serves up to 255 KiB per read).
    public static let maxReadSize = 128 << 10

    public let session: SSHSession
    /// The libssh handle; owned, freed in deinit (before `session` is released).
    let handle: sftp_session
    /// Whether the server offers `posix-rename@openssh.com`, which replaces the target atomically.
    /// (Settable inside the module so tests can exercise the fallback against OpenSSH.)
    public internal(set) var supportsPosixRename = false

    /// Starts the SFTP subsystem on a connected session.
    public init(session: SSHSession) throws {
        guard let handle = sftp_new(session.handle) else {
            throw SSHError(
                session.isConnected ? .failure : .connection,
                "cannot open an SFTP channel to \(session.configuration.hostAndPort): \(session.lastError)")
        }
        self.session = session
        self.handle = handle
        guard sftp_init(handle) == SSH_OK else {
            throw failure("cannot start SFTP on \(session.configuration.hostAndPort)")
        }
        supportsPosixRename = sftp_extension_supported(handle, "posix-rename@openssh.com", "1") != 0
    }

    /// Connects, verifies the host key, logs in and starts SFTP.
    public convenience init(configuration: SSHSessionConfiguration) throws {
        try self.init(session: SSHSession(configuration: configuration))
    }

    deinit { sftp_free(handle) }

    // MARK: Files

    /// Creates `path`, or truncates it if it exists, with `permissions` for a new file.
    public func create(_ path: String, permissions: UInt32 = 0o600) throws -> SFTPFile {
        guard let file = sftp_open(handle, path, O_WRONLY | O_CREAT | O_TRUNC, mode_t(permissions)) else {
            throw failure("cannot create \(path)")
        }
        return SFTPFile(client: self, handle: file, path: path)
    }

    /// Opens an existing file for reading.
    public func open(_ path: String) throws -> SFTPFile {
        guard let file = sftp_open(handle, path, O_RDONLY, 0) else {
            throw failure("cannot open \(path)")
        }
        return SFTPFile(client: self, handle: file, path: path)
    }

    /// Streams a whole file into `sink`; returns the byte count.
    @discardableResult
    public func download(_ path: String, into sink: any ByteSink) throws -> Int64 {
        let file = try open(path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.maxReadSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try file.read(into: buffer)
            if n == 0 { break }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
        try file.close()
        return total
    }

    // MARK: Names

    /// The attributes of `path` (symlinks followed), or nil when it does not exist.
    public func stat(_ path: String) throws -> SFTPAttributes? {
        guard let attributes = sftp_stat(handle, path) else {
            let error = failure("cannot stat \(path)")
            if error.kind == .notFound { return nil }
            throw error
        }
        defer { sftp_attributes_free(attributes) }
        return SFTPAttributes(attributes)
    }

    /// The entries of a directory, without `.` and `..`, in the server's order.
    public func listDirectory(_ path: String) throws -> [SFTPAttributes] {
        guard let directory = sftp_opendir(handle, path) else {
            throw failure("cannot list \(path)")
        }
        defer { sftp_closedir(directory) }
        var entries: [SFTPAttributes] = []
        while let attributes = sftp_readdir(handle, directory) {
            let entry = SFTPAttributes(attributes)
            sftp_attributes_free(attributes)
            if entry.name != "." && entry.name != ".." { entries.append(entry) }
        }
        guard sftp_dir_eof(directory) != 0 else {
            throw failure("cannot list \(path)")
        }
        return entries
    }

    /// Creates a directory and any missing parents (`mkdir -p`); existing ones are left alone.
    public func makeDirectories(_ path: String, permissions: UInt32 = 0o700) throws {
        if path.isEmpty || path == "/" || path == "." { return }
        if let existing = try stat(path) {
            guard existing.type == .directory else {
                throw SSHError(.failure, "cannot create the folder \(path): a file of that name exists")
            }
            return
        }
        try makeDirectories(Self.parent(of: path), permissions: permissions)
        if sftp_mkdir(handle, path, mode_t(permissions)) != 0 {
            let error = failure("cannot create the folder \(path)")
            // Another client may have made it meanwhile (OpenSSH answers SSH_FX_FAILURE then).
            if error.kind != .connection, (try? stat(path))??.type == .directory { return }
            throw error
        }
    }

    /// Deletes a file.
    public func remove(_ path: String) throws {
        guard sftp_unlink(handle, path) == 0 else {
            throw failure("cannot delete \(path)")
        }
    }

    /// Renames `source` to `target`, replacing `target` if it exists: atomically with
    /// `posix-rename@openssh.com` when the server offers it, otherwise by deleting `target` first
    /// (plain SFTP v3 rename refuses to replace a file).
    public func rename(_ source: String, to target: String) throws {
        if supportsPosixRename {
            try posixRename(source, to: target)
            return
        }
        if sftp_rename(handle, source, target) == 0 { return }
        let first = failure("cannot rename \(source) to \(target)")
        guard first.kind != .connection, try stat(target) != nil else { throw first }
        try remove(target)
        guard sftp_rename(handle, source, target) == 0 else {
            throw failure("cannot rename \(source) to \(target)")
        }
    }

    /// The absolute, canonical form of `path` (`.` gives the login's folder).
    public func realPath(_ path: String) throws -> String {
        guard let resolved = sftp_canonicalize_path(handle, path) else {
            throw failure("cannot resolve \(path)")
        }
        defer { ssh_string_free_char(resolved) }
        return String(cString: resolved)
    }

    // MARK: Errors

    /// The error for a failed libssh call: a connection problem when the connection or the SFTP
    /// channel is gone, otherwise classified by the SFTP status the server sent.
    func failure(_ what: String, writing: Bool = false) -> SSHError {
        let library = session.lastError
        let channel = handle.pointee.channel
        let channelGone = channel.map { ssh_channel_is_closed($0) != 0 || ssh_channel_is_eof($0) != 0 } ?? true
        if !session.isConnected || channelGone {
            return SSHError(
                .connection, "\(what): the connection to \(session.configuration.hostAndPort) was lost: \(library)")
        }
        let status = SFTPStatus(rawValue: UInt32(bitPattern: sftp_get_error(handle)))
        switch status {
        case .noSuchFile, .noSuchPath:
            return SSHError(.notFound, "\(what): it does not exist (\(library))", sftpStatus: status)
        case .permissionDenied, .writeProtect:
            return SSHError(.permissionDenied, "\(what): permission denied (\(library))", sftpStatus: status)
        case .eof, .noConnection, .connectionLost:
            return SSHError(.connection, "\(what): the connection was lost (\(library))", sftpStatus: status)
        case .failure where writing:
            return SSHError(
                .writeRefused, "\(what): the server refused the write (disk full or quota?) (\(library))",
                sftpStatus: status)
        default:
            return SSHError(.failure, "\(what): \(library) (\(status))", sftpStatus: status)
        }
    }

    /// The folder part of a server path (`""` for a bare name, `/` for a top-level one).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
