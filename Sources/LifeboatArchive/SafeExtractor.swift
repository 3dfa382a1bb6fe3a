import Glibc

/// Extracts archive entries under a root directory and never writes outside it.
///
/// Every path is checked lexically (`validate(path:)`) and then walked from the root's file descriptor with
/// `openat(O_NOFOLLOW | O_DIRECTORY)`, so a symlink anywhere among the parents is refused rather than followed,
/// whether it was on disk before or created by an earlier entry. Files are written to a temporary name and renamed
/// into place; symlinks are created as links and never written through. Directory modes and times are applied by
/// `finish()`, after their children. Not thread-safe.
public final class SafeExtractor {
    private struct PendingDirectory {
        var components: [String]
        var entry: ArchiveEntryMetadata
    }

    private static let chunkSize = 128 << 10
    /// Linux's `O_PATH` and `UTIME_OMIT`, which Swift's Glibc module does not export (they need `_GNU_SOURCE`).
    private let openPath: Int32 = 0o10000000
    private static let utimeOmit = (1 << 30) - 2

    private let rootFD: Int32
    private let restoreOwnership: Bool
    private let buffer: UnsafeMutableRawBufferPointer
    /// Directory entries by path, in first-seen order; a later entry for the same path replaces the metadata.
    private var pendingDirectories: [String: Int] = [:]
    private var pendingOrder: [PendingDirectory] = []
    /// The last parent directory walked to, kept open while only regular files are written.
    private var cachedParent: (path: [String], fd: Int32)?
    private var temporaryCounter = 0

    /// Opens `root`, which must be an existing directory; entries are created relative to this open descriptor.
    public init(root: String, restoreOwnership: Bool) throws {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            throw Self.systemError("cannot open the extraction root", path: root)
        }
        rootFD = fd
        self.restoreOwnership = restoreOwnership
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
    }

    deinit {
        dropCachedParent()
        close(rootFD)
        buffer.deallocate()
    }

    /// Refuses empty and absolute paths, NUL bytes and any ".." component; "." and empty components are ignored.
    public static func validate(path: String) throws {
        _ = try components(of: path)
    }

    /// Creates one entry. `data` supplies a file's bytes until it returns 0; `observe` sees each chunk written.
    public func extract(
        _ entry: ArchiveEntryMetadata,
        data: (UnsafeMutableRawBufferPointer) throws -> Int,
        observe: ((UnsafeRawBufferPointer) -> Void)?
    ) throws {
        let components = try Self.components(of: entry.path)
        switch entry.type {
        case .file, .directory, .symlink:
            break
        case .hardlink, .other:
            throw ArchiveError(
                code: .unsupportedEntry, message: "\(entry.type) entries are not extracted", path: entry.path)
        }
        guard let name = components.last else {
            // "." or "./": the root itself, which is left as it is.
            if entry.type == .directory { return }
            throw ArchiveError(code: .unsafePath, message: "the path names the extraction root", path: entry.path)
        }
        let parentPath = Array(components.dropLast())
        if entry.type != .file {
            dropCachedParent()
        }
        let parent = try openParent(parentPath, entryPath: entry.path)
        switch entry.type {
        case .file:
            try writeFile(entry, in: parent, name: name, data: data, observe: observe)
        case .directory:
            try makeDirectory(entry, in: parent, name: name)
            let key = components.joined(separator: "/")
            if let index = pendingDirectories[key] {
                pendingOrder[index].entry = entry
            } else {
                pendingDirectories[key] = pendingOrder.count
                pendingOrder.append(PendingDirectory(components: components, entry: entry))
            }
        case .symlink:
            try makeSymlink(entry, in: parent, name: name)
        case .hardlink, .other:
            break
        }
    }

    /// Applies the modes, times and owners of directory entries, deepest first.
    public func finish() throws {
        dropCachedParent()
        let ordered = pendingOrder.sorted { $0.components.count > $1.components.count }
        pendingOrder = []
        pendingDirectories = [:]
        for directory in ordered {
            let entry = directory.entry
            let fd: Int32
            let openError: Int32
            do {
                let parent = try walk(Array(directory.components.dropLast()), create: false, entryPath: entry.path)
                fd = openat(parent, directory.components.last!, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                openError = errno
                if parent != rootFD { close(parent) }
            } catch let error as ArchiveError where error.code == .unsafePath {
                continue  // a later entry replaced a parent with a file or a link
            }
            if fd < 0 {
                if openError == ENOENT || openError == ENOTDIR || openError == ELOOP { continue }  // replaced later
                throw Self.systemError("cannot open the directory", path: entry.path, errno: openError)
            }
            defer { close(fd) }
            try applyAttributes(entry, fd: fd, stripSetID: false)
        }
    }

    // MARK: - Entries

    private func writeFile(
        _ entry: ArchiveEntryMetadata, in parent: Int32, name: String,
        data: (UnsafeMutableRawBufferPointer) throws -> Int, observe: ((UnsafeRawBufferPointer) -> Void)?
    ) throws {
        let (temporary, fd) = try createTemporary(in: parent, entryPath: entry.path) { name in
            openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        var renamed = false
        defer {
            if !renamed { unlinkat(parent, temporary, 0) }
        }
        do {
            defer { close(fd) }
            var total: Int64 = 0
            while true {
                let count = try data(buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                try writeAll(fd, chunk, entryPath: entry.path)
                observe?(chunk)
                total += Int64(count)
            }
            if total != entry.size {
                throw ArchiveError(
                    code: total < entry.size ? .truncated : .format,
                    message: "the data has \(total) bytes but the header declares \(entry.size)", path: entry.path)
            }
            try applyAttributes(entry, fd: fd, stripSetID: true)
        }
        let removedDirectory = try replace(temporary, with: name, in: parent, entryPath: entry.path)
        renamed = true
        if removedDirectory {
            dropCachedParent()  // it may have been the directory just removed
        }
    }

    private func makeDirectory(_ entry: ArchiveEntryMetadata, in parent: Int32, name: String) throws {
        // Owner-writable until finish() applies the archived mode, so children can be created in it.
        if mkdirat(parent, name, 0o700) == 0 { return }
        guard errno == EEXIST else {
            throw Self.systemError("cannot create the directory", path: entry.path)
        }
        var status = stat()
        if fstatat(parent, name, &status, AT_SYMLINK_NOFOLLOW) != 0 {
            throw Self.systemError("cannot inspect the existing entry", path: entry.path)
        }
        if status.st_mode & S_IFMT == S_IFDIR { return }
        // A file or a symlink is in the way: the later entry wins.
        if unlinkat(parent, name, 0) != 0 || mkdirat(parent, name, 0o700) != 0 {
            throw Self.systemError("cannot replace the existing entry with a directory", path: entry.path)
        }
    }

    private func makeSymlink(_ entry: ArchiveEntryMetadata, in parent: Int32, name: String) throws {
        guard let target = entry.linkTarget, !target.isEmpty, !target.utf8.contains(0) else {
            throw ArchiveError(code: .format, message: "the symlink has no valid target", path: entry.path)
        }
        let (temporary, _) = try createTemporary(in: parent, entryPath: entry.path) { name in
            symlinkat(target, parent, name) == 0 ? 0 : -1
        }
        var renamed = false
        defer {
            if !renamed { unlinkat(parent, temporary, 0) }
        }
        if restoreOwnership, fchownat(parent, temporary, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) != 0 {
            throw Self.systemError("cannot set the owner", path: entry.path)
        }
        var times = Self.times(of: entry)
        if utimensat(parent, temporary, &times, AT_SYMLINK_NOFOLLOW) != 0 {
            throw Self.systemError("cannot set the modification time", path: entry.path)
        }
        try replace(temporary, with: name, in: parent, entryPath: entry.path)
        renamed = true
    }

    // MARK: - Helpers

    /// Splits a path into its components, refusing anything that could leave the root.
    static func components(of path: String) throws -> [String] {
        func refuse(_ reason: String) -> ArchiveError {
            ArchiveError(code: .unsafePath, message: "unsafe path (\(reason))", path: path)
        }
        if path.isEmpty { throw refuse("empty") }
        if path.utf8.contains(0) { throw refuse("contains NUL") }
        if path.hasPrefix("/") { throw refuse("absolute") }
        var result: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == ".." { throw refuse("contains ..") }
            if component == "." { continue }
            result.append(String(component))
        }
        return result
    }

    /// Opens the parent directory of an entry, creating missing directories; reuses the last one for files.
    private func openParent(_ components: [String], entryPath: String) throws -> Int32 {
        if components.isEmpty { return rootFD }
        if let cachedParent, cachedParent.path == components { return cachedParent.fd }
        dropCachedParent()
        let fd = try walk(components, create: true, entryPath: entryPath)
        cachedParent = (components, fd)
        return fd
    }

    private func dropCachedParent() {
        if let cachedParent { close(cachedParent.fd) }
        cachedParent = nil
    }

    /// Walks `components` from the root without following symlinks; the caller closes the result unless it is
    /// the root descriptor.
    private func walk(_ components: [String], create: Bool, entryPath: String) throws -> Int32 {
        var fd = rootFD
        for (index, component) in components.enumerated() {
            var next = openat(fd, component, openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(fd, component, 0o755) != 0, errno != EEXIST {
                    let error = Self.systemError("cannot create a parent directory", path: entryPath)
                    if fd != rootFD { close(fd) }
                    throw error
                }
                next = openat(fd, component, openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                if fd != rootFD { close(fd) }
                if code == ELOOP || code == ENOTDIR {
                    let parent = components[...index].joined(separator: "/")
                    throw ArchiveError(
                        code: .unsafePath,
                        message: "unsafe path (parent \"\(parent)\" is a symlink or not a directory)", path: entryPath)
                }
                throw Self.systemError("cannot open a parent directory", path: entryPath, errno: code)
            }
            if fd != rootFD { close(fd) }
            fd = next
        }
        return fd
    }

    /// Creates a uniquely named temporary entry in `parent` with `make`, which returns a descriptor, 0, or -1.
    private func createTemporary(
        in parent: Int32, entryPath: String, _ make: (String) -> Int32
    ) throws -> (name: String, fd: Int32) {
        while true {
            temporaryCounter += 1
            let name = ".lifeboat-\(getpid())-\(temporaryCounter)-\(UInt32.random(in: 0...UInt32.max)).tmp"
            let fd = make(name)
            if fd >= 0 { return (name, fd) }
            if errno != EEXIST {
                throw Self.systemError("cannot create a temporary file", path: entryPath)
            }
        }
    }

    /// Renames `temporary` over `name`; an empty directory in the way is removed (the later entry wins).
    /// Returns whether a directory was removed.
    @discardableResult
    private func replace(_ temporary: String, with name: String, in parent: Int32, entryPath: String) throws -> Bool {
        if renameat(parent, temporary, parent, name) == 0 { return false }
        if errno == EISDIR, unlinkat(parent, name, AT_REMOVEDIR) == 0,
            renameat(parent, temporary, parent, name) == 0
        {
            return true
        }
        throw Self.systemError("cannot move the entry into place", path: entryPath)
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, entryPath: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.systemError("cannot write the file", path: entryPath)
            }
            offset += written
        }
    }

    /// Sets owner (when restoring ownership), mode and times on an open file or directory.
    private func applyAttributes(_ entry: ArchiveEntryMetadata, fd: Int32, stripSetID: Bool) throws {
        var mode = entry.mode & 0o7777
        if restoreOwnership {
            if fchown(fd, entry.uid, entry.gid) != 0 {
                throw Self.systemError("cannot set the owner", path: entry.path)
            }
        } else if stripSetID {
            // Never hand setuid/setgid to an owner the archive did not name.
            if entry.uid != geteuid() { mode &= ~UInt32(S_ISUID) }
            if entry.gid != getegid() { mode &= ~UInt32(S_ISGID) }
        }
        if fchmod(fd, mode) != 0 {
            throw Self.systemError("cannot set the mode", path: entry.path)
        }
        var times = Self.times(of: entry)
        if futimens(fd, &times) != 0 {
            throw Self.systemError("cannot set the modification time", path: entry.path)
        }
    }

    /// Access time left alone, modification time from the entry.
    private static func times(of entry: ArchiveEntryMetadata) -> [timespec] {
        let nanoseconds = Int(min(max(entry.mtimeNanoseconds, 0), 999_999_999))
        return [
            timespec(tv_sec: 0, tv_nsec: utimeOmit),
            timespec(tv_sec: time_t(entry.mtime), tv_nsec: nanoseconds),
        ]
    }

    private static func systemError(_ what: String, path: String, errno code: Int32 = errno) -> ArchiveError {
        ArchiveError(code: .io, message: "\(what): \(String(cString: strerror(code)))", path: path)
    }
}
