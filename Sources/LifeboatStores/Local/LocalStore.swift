#if canImport(Glibc)
    import Glibc
#endif
import LifeboatCore

/// A folder on a local or mounted file system.
///
/// Uploads go to `NAME.partial` beside the final name, are fsynced, checked for size, then renamed
/// into place and the folder fsynced: a crash leaves at most a `.partial` file, which
/// `removeIncomplete` deletes.
public final class LocalStore: Store {
    public static let partialSuffix = ".partial"

    public let name: String
    /// Absolute path of the store's folder.
    public let root: String

    public init(name: String, root: String) {
        self.name = name
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    public var description: String { "local store '\(name)' at \(root)" }

    private func path(_ objectName: String) -> String { root + "/" + objectName }

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try ObjectName.validate(objectName)
        let final = path(objectName)
        try LocalFiles.makeDirectories(LocalFiles.parent(of: final))
        let partial = final + Self.partialSuffix
        _ = unlink(partial)
        let sink = try FileSink(path: partial, mode: 0o600, exclusive: true)
        return LocalObjectWriter(objectName: objectName, finalPath: final, sink: sink)
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try ObjectName.validate(objectName)
        let source = try FileSource(path: path(objectName), noFollow: true)
        try source.copy(to: sink)
    }

    public func makeReader(for objectName: String) throws -> (any ByteSource)? {
        try ObjectName.validate(objectName)
        return try FileSource(path: path(objectName), noFollow: true)
    }

    public func list(prefix: String) throws -> [StoredObject] {
        try walk(prefix: prefix).filter { !$0.name.hasSuffix(Self.partialSuffix) }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try ObjectName.validate(objectName)
        guard let st = LocalFiles.lstatOrNil(path(objectName)), (st.st_mode & S_IFMT) == S_IFREG else {
            return nil
        }
        return StoredObject(name: objectName, size: Int64(st.st_size), modified: Int64(st.st_mtim.tv_sec))
    }

    public func delete(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        if unlink(path(objectName)) != 0 && errno != ENOENT {
            throw StoreError(.io, "cannot delete \(objectName) from \(description): \(errnoText())")
        }
        LocalFiles.syncDirectory(LocalFiles.parent(of: path(objectName)))
    }

    public func removeIncomplete(prefix: String) throws -> [String] {
        var removed: [String] = []
        for object in try walk(prefix: prefix) where object.name.hasSuffix(Self.partialSuffix) {
            try delete(object.name)
            removed.append(object.name)
        }
        return removed
    }

    /// Every regular file under the root whose name starts with `prefix`.
    private func walk(prefix: String) throws -> [StoredObject] {
        guard LocalFiles.lstatOrNil(root) != nil else {
            throw StoreError(.notFound, "the folder of \(description) does not exist")
        }
        return try FolderWalk.objects(prefix: prefix) { folder in
            let names: [String]
            do {
                names = try LocalFiles.listDirectory(folder.isEmpty ? root : path(folder))
            } catch let error as StoreError where error.code == .notFound {
                return []
            }
            return names.compactMap { name in
                guard let st = LocalFiles.lstatOrNil(path(folder.isEmpty ? name : folder + "/" + name)) else {
                    return nil
                }
                let kind: FolderEntry.Kind =
                    switch st.st_mode & S_IFMT {
                    case S_IFREG: .file
                    case S_IFDIR: .directory
                    default: .other
                    }
                return FolderEntry(
                    name: name, kind: kind, size: Int64(st.st_size), modified: Int64(st.st_mtim.tv_sec))
            }
        }
    }
}

/// Writes `NAME.partial`, then fsync, size check and rename on commit.
final class LocalObjectWriter: ObjectWriter {
    let objectName: String
    let finalPath: String
    private let sink: FileSink
    private var written: Int64 = 0
    private var done = false

    init(objectName: String, finalPath: String, sink: FileSink) {
        self.objectName = objectName
        self.finalPath = finalPath
        self.sink = sink
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!done, "write after commit or abort")
        try sink.write(bytes)
        written += Int64(bytes.count)
    }

    func commit() throws -> StoredObject {
        precondition(!done, "commit after commit or abort")
        try sink.sync()
        var st = stat()
        guard fstat(sink.fd, &st) == 0, Int64(st.st_size) == written else {
            throw StoreError(
                .integrity, "\(sink.path) holds \(st.st_size) bytes after writing \(written); not committed")
        }
        sink.close()
        guard rename(sink.path, finalPath) == 0 else {
            throw StoreError(.io, "cannot rename \(sink.path) into place: \(errnoText())")
        }
        done = true
        LocalFiles.syncDirectory(LocalFiles.parent(of: finalPath))
        return StoredObject(name: objectName, size: written, modified: Int64(st.st_mtim.tv_sec))
    }

    func abort() {
        guard !done else { return }
        done = true
        sink.close()
        _ = unlink(sink.path)
    }

    deinit { abort() }
}
