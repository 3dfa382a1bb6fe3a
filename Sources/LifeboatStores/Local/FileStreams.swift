#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import LifeboatCore

/// The text of an `errno` value.
public func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// Reads a file through its descriptor; closes it when done.
public final class FileSource: ByteSource {
    public let path: String
    private var fd: Int32

    /// Opens `path` for reading; symlinks are followed unless `noFollow`.
    public init(path: String, noFollow: Bool = false) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0))
        guard fd >= 0 else {
            let code = errno
            throw StoreError(
                code == ENOENT ? .notFound : .io, "cannot open \(path): \(errnoText(code))")
        }
    }

    /// The file's size now.
    public func size() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError(.io, "cannot stat \(path): \(errnoText())") }
        return Int64(st.st_size)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard fd >= 0, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw StoreError(.io, "cannot read \(path): \(errnoText())")
        }
    }

    public func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}

/// Writes to a file descriptor it owns.
public final class FileSink: ByteSink {
    public let path: String
    fileprivate(set) var fd: Int32

    /// Creates or truncates `path` with `mode`.
    public init(path: String, mode: mode_t = 0o600, exclusive: Bool = false) throws {
        self.path = path
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        fd = open(path, flags, mode)
        guard fd >= 0 else { throw StoreError(.io, "cannot create \(path): \(errnoText())") }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError(.io, "cannot write \(path): \(errnoText())")
            }
            offset += n
        }
    }

    /// Flushes the file's data to stable storage.
    public func sync() throws {
        guard fsync(fd) == 0 else { throw StoreError(.io, "cannot fsync \(path): \(errnoText())") }
    }

    public func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}

/// Small file-system helpers shared by the local store and the backup code.
public enum LocalFiles {
    /// Creates a directory and its parents with `mode` (existing ones are left as they are).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        if path.isEmpty || path == "/" { return }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw StoreError(.io, "\(path) exists and is not a directory")
            }
            return
        }
        try makeDirectories(parent(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw StoreError(.io, "cannot create directory \(path): \(errnoText())")
        }
    }

    /// The parent folder of a path (`/` for top-level paths, `.` for bare names).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Fsyncs a directory so a rename in it is durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            _ = Glibc.close(fd)
        }
    }

    /// `lstat`, or nil when the path does not exist.
    public static func lstatOrNil(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    /// Removes a file or a whole tree; missing paths are fine. Never follows symlinks.
    public static func removeTree(_ path: String) {
        guard let st = lstatOrNil(path) else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for child in (try? listDirectory(path)) ?? [] {
                removeTree(path + "/" + child)
            }
            _ = rmdir(path)
        } else {
            _ = unlink(path)
        }
    }

    /// The names in a directory, without `.` and `..`, sorted.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            let code = errno
            throw StoreError(code == ENOENT ? .notFound : .io, "cannot list \(path): \(errnoText(code))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
