import Foundation
import LifeboatCore
import LifeboatCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// A file of the download directory written through a descriptor, which refuses to take more than
/// `limit` bytes (the release's declared size), and the few file operations a download needs.
///
/// Every failure is a `FirmwareError` with code `.io` naming the path and the system's reason.
final class ImageFile: ByteSink {
    /// Thrown by `write` when the file would take more than `limit` bytes.
    struct LimitExceeded: Error, CustomStringConvertible {
        var limit: Int64
        var description: String { "more than \(limit) bytes were sent" }
    }

    let path: String
    /// The most bytes this object writes.
    let limit: Int64
    /// The bytes written through this object.
    private(set) var written: Int64 = 0
    private var fd: Int32

    /// Creates `path` empty (truncating it if it exists), mode 0600.
    init(creating path: String, limit: Int64) throws {
        self.path = path
        self.limit = limit
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create", path) }
    }

    deinit { close() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard written + Int64(bytes.count) <= limit else { throw LimitExceeded(limit: limit) }
        try Self.writeAll(fd, bytes, path: path)
        written += Int64(bytes.count)
    }

    /// Flushes the file to disk.
    func sync() throws {
        guard fsync(fd) == 0 else { throw Self.failure("cannot fsync", path) }
    }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: File operations

    /// The size of the file at `path`; nil when there is none.
    static func size(of path: String) throws -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw failure("cannot stat", path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FirmwareError(.io, "\(path) is not a regular file; remove it")
        }
        return Int64(info.st_size)
    }

    /// Removes the file at `path`, if there is one.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("cannot remove", path) }
    }

    /// Removes the file at `path`, if there is one, ignoring failures (clean-up on an error path,
    /// where the first error is the one to report).
    static func discard(_ path: String) {
        _ = unlink(path)
    }

    /// Makes `directory` (mode 0700) unless it exists.
    static func makeDirectory(_ directory: String) throws {
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw failure("cannot create the download directory", directory)
        }
    }

    /// Appends the whole file at `source` to the file at `destination`, then removes `source`.
    static func append(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure("cannot open", source) }
        defer { _ = Glibc.close(input) }
        let output = open(destination, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard output >= 0 else { throw failure("cannot open", destination) }
        defer { _ = Glibc.close(output) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(input, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", source)
            }
            try writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: destination)
        }
        try remove(source)
    }

    /// Replaces `destination` with `source` (a rename in the same directory).
    static func move(_ source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else { throw failure("cannot rename \(source) to", destination) }
    }

    /// Makes `source` durable under the name `destination`: fsync the file, rename it, fsync the
    /// directory, so that after a crash either the old state or the complete file is there.
    static func commit(_ source: String, to destination: String) throws {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", source) }
        let synced = fsync(fd) == 0
        let code = errno
        _ = Glibc.close(fd)
        guard synced else { throw failure("cannot fsync", source, code) }
        try move(source, to: destination)
        let directory = (destination as NSString).deletingLastPathComponent
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw failure("cannot open", directory) }
        defer { _ = Glibc.close(dirfd) }
        guard fsync(dirfd) == 0 else { throw failure("cannot fsync", directory) }
    }

    /// The lower-case hex SHA-256 of the file at `path`, read in pieces.
    static func sha256(of path: String) throws -> String {
        do {
            return Hex.encode(try SHA256Hasher.hash(fileAt: path))
        } catch let error as CryptoError {
            throw FirmwareError(.io, error.message, underlying: error)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write", path)
            }
            offset += n
        }
    }

    private static func failure(_ what: String, _ path: String, _ code: Int32 = errno) -> FirmwareError {
        FirmwareError(.io, "\(what) \(path): \(String(cString: strerror(code)))")
    }
}
