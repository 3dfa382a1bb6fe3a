/// The kind of an archive entry.
public enum ArchiveEntryType: String, Sendable, Codable {
    case file, directory, symlink, hardlink, other
}

/// The header of one archive entry: everything but its data.
public struct ArchiveEntryMetadata: Sendable, Hashable {
    /// A relative path with "/" separators; directories carry no trailing slash.
    public var path: String
    public var type: ArchiveEntryType
    /// The data size in bytes; 0 for everything but files.
    public var size: Int64
    /// Permission bits including setuid, setgid and sticky (`0o7777`), without file type bits.
    public var mode: UInt32
    /// Modification time in seconds since the Unix epoch.
    public var mtime: Int64
    public var mtimeNanoseconds: Int32
    public var uid: UInt32
    public var gid: UInt32
    public var userName: String?
    public var groupName: String?
    /// The target of a symlink, or the path a hard link refers to.
    public var linkTarget: String?

    /// Creates a header; without `mode`, files and hard links get 0644, directories 0755 and symlinks 0777.
    public init(
        path: String,
        type: ArchiveEntryType,
        size: Int64 = 0,
        mode: UInt32? = nil,
        mtime: Int64 = 0,
        mtimeNanoseconds: Int32 = 0,
        uid: UInt32 = 0,
        gid: UInt32 = 0,
        userName: String? = nil,
        groupName: String? = nil,
        linkTarget: String? = nil
    ) {
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode ?? ArchiveEntryMetadata.defaultMode(for: type)
        self.mtime = mtime
        self.mtimeNanoseconds = mtimeNanoseconds
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.linkTarget = linkTarget
    }
}

extension ArchiveEntryMetadata {
    static func defaultMode(for type: ArchiveEntryType) -> UInt32 {
        switch type {
        case .directory: 0o755
        case .symlink: 0o777
        case .file, .hardlink, .other: 0o644
        }
    }
}
