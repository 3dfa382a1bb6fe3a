#if canImport(Glibc)
    import Glibc
#endif
import LifeboatArchive
import LifeboatStores

/// Walks file trees without following symlinks, applying include/exclude globs.
///
/// A glob without `/` matches a name at any depth (`*.bak`); a glob with `/` matches the path relative
/// to the tree's root (`spool/tmp/*`), `*` crossing folders. An excluded folder is not entered. With
/// include globs, only matching files and links are kept (folders are always walked and kept, so
/// empty folders survive).
struct FileTreeScanner {
    let component: String
    let include: [String]
    let exclude: [String]

    func scan(root: String) throws -> [PlannedEntry] {
        let root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        guard let st = LocalFiles.lstatOrNil(root) else {
            throw BackupError(.sourceMissing, "source '\(component)': \(root) does not exist")
        }
        let base = "components/\(component)/" + root.drop(while: { $0 == "/" })
        var entries: [PlannedEntry] = []
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFDIR || kind == S_IFREG else {
            throw BackupError(.sourceUnreadable, "source '\(component)': \(root) is neither a folder nor a file")
        }
        if kind == S_IFREG {
            entries.append(entry(st, archivePath: base, diskPath: root, type: .file))
            return entries
        }
        entries.append(entry(st, archivePath: base, diskPath: root, type: .directory))
        try walk(directory: root, relative: "", archiveBase: base, into: &entries)
        return entries
    }

    private func walk(directory: String, relative: String, archiveBase: String, into entries: inout [PlannedEntry])
        throws
    {
        let names: [String]
        do {
            names = try LocalFiles.listDirectory(directory)
        } catch {
            throw BackupError(.sourceUnreadable, "source '\(component)': \(error)")
        }
        for name in names {
            let disk = directory + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            guard let st = LocalFiles.lstatOrNil(disk) else { continue }  // vanished since listing
            // (the tree is walked in name order, each folder before its contents)
            if isExcluded(rel, name: name) { continue }
            let archivePath = archiveBase + "/" + rel
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entries.append(entry(st, archivePath: archivePath, diskPath: disk, type: .directory))
                try walk(directory: disk, relative: rel, archiveBase: archiveBase, into: &entries)
            case S_IFREG:
                if isIncluded(rel, name: name) {
                    entries.append(entry(st, archivePath: archivePath, diskPath: disk, type: .file))
                }
            case S_IFLNK:
                if isIncluded(rel, name: name) {
                    var e = entry(st, archivePath: archivePath, diskPath: disk, type: .symlink)
                    e.metadata.linkTarget = try readLink(disk)
                    entries.append(e)
                }
            default:
                continue  // sockets, FIFOs and devices are not backed up
            }
        }
    }

    private func entry(_ st: stat, archivePath: String, diskPath: String, type: ArchiveEntryType) -> PlannedEntry {
        PlannedEntry(metadata: .init(stat: st, path: archivePath, type: type), diskPath: diskPath)
    }

    private func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else {
            throw BackupError(.sourceUnreadable, "source '\(component)': cannot read link \(path): \(errnoText())")
        }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func isExcluded(_ relative: String, name: String) -> Bool {
        exclude.contains { Self.matches($0, relative: relative, name: name) }
    }

    func isIncluded(_ relative: String, name: String) -> Bool {
        include.isEmpty || include.contains { Self.matches($0, relative: relative, name: name) }
    }

    static func matches(_ pattern: String, relative: String, name: String) -> Bool {
        if pattern.contains("/") {
            let p = pattern.hasPrefix("/") ? String(pattern.dropFirst()) : pattern
            return fnmatch(p, relative, 0) == 0
        }
        return fnmatch(pattern, name, 0) == 0
    }
}

extension ArchiveEntryMetadata {
    /// Metadata from `lstat`: permission bits, mtime with nanoseconds, owner; size for files only.
    init(stat st: stat, path: String, type: ArchiveEntryType) {
        self.init(
            path: path, type: type, size: type == .file ? Int64(st.st_size) : 0, mode: UInt32(st.st_mode & 0o7777),
            mtime: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: Int32(st.st_mtim.tv_nsec), uid: st.st_uid,
            gid: st.st_gid)
    }
}
