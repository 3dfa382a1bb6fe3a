/// What a backup reads: a SQLite database or a file tree.
public struct SourceSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A SQLite database copied with the online-backup API.
        case sqlite(path: String)
        /// File trees with include/exclude globs.
        case files(paths: [String], include: [String], exclude: [String])
    }

    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    public var kindName: String {
        switch kind {
        case .sqlite: "sqlite"
        case .files: "files"
        }
    }

    /// Where the data comes from, for messages and the manifest.
    public var location: String {
        switch kind {
        case .sqlite(let path): path
        case .files(let paths, _, _): paths.joined(separator: ", ")
        }
    }
}

/// One archive entry to be written, read from `diskPath`.
public struct PlannedEntry: Sendable {
    public enum EntryType: String, Sendable { case file, directory, symlink }

    public var archivePath: String
    public var diskPath: String
    public var type: EntryType
    public var size: Int64
    public var mode: UInt32
    public var mtime: Int64
    public var mtimeNanoseconds: Int32
    public var uid: UInt32
    public var gid: UInt32
    public var linkTarget: String?
}

/// A source made ready to archive: its entries, and how consistency was obtained.
public struct PreparedComponent: Sendable {
    public var spec: SourceSpec
    public var consistency: String
    public var integrityCheck: String?
    public var entries: [PlannedEntry]

    public var bytes: Int64 { entries.reduce(0) { $0 + $1.size } }
    public var fileCount: Int { entries.filter { $0.type == .file }.count }
}
