import CSSH
import LifeboatCore

/// An open file on an SFTP server (libssh's `sftp_file`), closed when the object goes away.
///
/// Writes are split into requests of at most ``SFTPClient/maxWriteSize`` bytes, each acknowledged
/// by the server before the next is sent (libssh 0.10 has no asynchronous write).
public final class SFTPFile: ByteSink, ByteSource {
    public let path: String
    /// Keeps the SFTP session (and the SSH session under it) alive while the file is open.
    public let client: SFTPClient
    private var handle: sftp_file?
    /// Bytes written through this object (acknowledged by the server).
    public private(set) var bytesWritten: Int64 = 0

    init(client: SFTPClient, handle: sftp_file, path: String) {
        self.client = client
        self.handle = handle
        self.path = path
    }

    deinit {
        if let handle { sftp_close(handle) }
    }

    /// Writes all of `bytes` at the current offset.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let handle else { throw SSHError(.failure, "cannot write \(path): the file is closed") }
        var offset = 0
        while offset < bytes.count {
            let count = min(SFTPClient.maxWriteSize, bytes.count - offset)
            guard sftp_write(handle, bytes.baseAddress! + offset, count) == count else {
                throw client.failure("cannot write \(path)", writing: true)
            }
            offset += count
            bytesWritten += Int64(count)
        }
    }

    /// Reads up to `buffer.count` bytes at the current offset; 0 means the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let handle else { throw SSHError(.failure, "cannot read \(path): the file is closed") }
        guard buffer.count > 0 else { return 0 }
        let n = sftp_read(handle, buffer.baseAddress, min(buffer.count, SFTPClient.maxReadSize))
        guard n >= 0 else { throw client.failure("cannot read \(path)") }
        return n
    }

    /// The file's attributes as the server sees them through the open handle.
    public func stat() throws -> SFTPAttributes {
        guard let handle else { throw SSHError(.failure, "cannot stat \(path): the file is closed") }
        guard let attributes = sftp_fstat(handle) else { throw client.failure("cannot stat \(path)") }
        defer { sftp_attributes_free(attributes) }
        return SFTPAttributes(attributes)
    }

    /// Closes the handle; the server reports late write errors here. Closing twice is a no-op.
    public func close() throws {
        guard let handle else { return }
        self.handle = nil
        guard sftp_close(handle) == SSH_OK else {
            throw client.failure("cannot close \(path)", writing: true)
        }
    }
}
