import LifeboatArchive

/// What a backup reads: a SQLite database, a file tree, or MariaDB/MySQL databases.
public struct SourceSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A SQLite database copied with the online-backup API.
        case sqlite(path: String)
        /// File trees with include/exclude globs.
        case files(paths: [String], include: [String], exclude: [String])
        /// MariaDB or MySQL databases dumped with `mariadb-dump`/`mysqldump` straight into the archive,
        /// one dump per database, as `components/<name>/<database>.sql.part-0001`, `-0002`, …
        case mariadb(MariaDBDumpOptions)
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
        case .mariadb(let options): options.flavour.rawValue
        }
    }

    /// Where the data comes from, for messages and the manifest.
    public var location: String {
        switch kind {
        case .sqlite(let path): path
        case .files(let paths, _, _): paths.joined(separator: ", ")
        case .mariadb(let options):
            options.databases.joined(separator: ", ")
                + (options.tables.isEmpty ? "" : " (tables " + options.tables.joined(separator: ", ") + ")")
        }
    }
}

/// One archive entry to be written: its tar metadata (the path is the archive path), read from `diskPath`.
public struct PlannedEntry: Sendable {
    public var metadata: ArchiveEntryMetadata
    public var diskPath: String
    /// True for a database copy in the staging folder: its metadata (mode, mtime, owner) is the
    /// original's, not the copy's.
    public var isStagedCopy = false

    public var archivePath: String { metadata.path }
    public var type: ArchiveEntryType { metadata.type }
    public var size: Int64 { metadata.size }
}

/// A source made ready to archive: its entries, and how consistency was obtained.
public struct PreparedComponent: Sendable {
    public var spec: SourceSpec
    public var consistency: String
    public var integrityCheck: String?
    public var entries: [PlannedEntry]
    /// Parts produced while the archive is written (database dumps), after the entries; their size is
    /// not in ``bytes``, which counts what is known before the archive starts.
    public var streams: [any StreamProducer] = []

    public var bytes: Int64 { entries.reduce(0) { $0 + $1.size } }
    public var fileCount: Int { entries.filter { $0.type == .file }.count }
}
