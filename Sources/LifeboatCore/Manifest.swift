/// The first entry of every archive, `lifeboat/manifest.json`: what the snapshot holds and how it was taken.
///
/// Everything here is known before file contents are read. Per-file SHA-256 digests are computed while
/// the files stream into the archive, so they travel in the last entries, `lifeboat/checksums.json`
/// and `lifeboat/SHA256SUMS` (see ``ChecksumList``).
public struct Manifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1
    public static let entryPath = "lifeboat/manifest.json"

    public var format: Int
    public var snapshot: SnapshotID
    /// ISO 8601 UTC.
    public var created: String
    public var host: String
    public var job: String
    public var pbx: PBXInfo
    public var agentVersion: String
    public var compression: String
    public var components: [Component]
    public var files: [File]

    public init(
        snapshot: SnapshotID, created: String, host: String, job: String, pbx: PBXInfo, agentVersion: String,
        compression: String, components: [Component], files: [File]
    ) {
        self.format = Self.currentFormat
        self.snapshot = snapshot
        self.created = created
        self.host = host
        self.job = job
        self.pbx = pbx
        self.agentVersion = agentVersion
        self.compression = compression
        self.components = components
        self.files = files
    }

    public struct PBXInfo: Codable, Sendable, Equatable {
        public var product: String?
        public var firmwareVersion: String?
        public init(product: String?, firmwareVersion: String?) {
            self.product = product
            self.firmwareVersion = firmwareVersion
        }
    }

    /// One source's part of the snapshot, stored under `components/<name>/`.
    public struct Component: Codable, Sendable, Equatable {
        public var name: String
        /// `sqlite`, `files`, …
        public var kind: String
        /// Where it came from (a path), never a credential.
        public var source: String
        /// How consistency was obtained, e.g. `sqlite-online-backup`, `file-walk`.
        public var consistency: String
        /// The result of the integrity check run on the copy before archiving (`ok`), or nil when none applies.
        public var integrityCheck: String?
        public var fileCount: Int
        public var bytes: Int64

        public init(
            name: String, kind: String, source: String, consistency: String, integrityCheck: String?,
            fileCount: Int, bytes: Int64
        ) {
            self.name = name
            self.kind = kind
            self.source = source
            self.consistency = consistency
            self.integrityCheck = integrityCheck
            self.fileCount = fileCount
            self.bytes = bytes
        }

        /// The archive folder that holds this component.
        public var archiveRoot: String { "components/\(name)" }
    }

    /// One entry as planned when the snapshot started.
    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var component: String
        /// `file`, `directory` or `symlink`.
        public var type: String
        public var size: Int64
        public var mode: UInt32
        /// Seconds since 1970, UTC.
        public var mtime: Int64
        public var linkTarget: String?

        public init(
            path: String, component: String, type: String, size: Int64, mode: UInt32, mtime: Int64,
            linkTarget: String? = nil
        ) {
            self.path = path
            self.component = component
            self.type = type
            self.size = size
            self.mode = mode
            self.mtime = mtime
            self.linkTarget = linkTarget
        }
    }
}

/// The trailing entries of an archive: the SHA-256 of every regular file as it was archived.
public struct ChecksumList: Codable, Sendable, Equatable {
    public static let entryPath = "lifeboat/checksums.json"
    /// The same digests in `sha256sum -c` format, for recovery with stock tools.
    public static let sumsEntryPath = "lifeboat/SHA256SUMS"

    public var snapshot: SnapshotID
    public var files: [Entry]
    /// Files listed in the manifest that were deleted before they could be read.
    public var vanished: [String]

    public init(snapshot: SnapshotID, files: [Entry], vanished: [String] = []) {
        self.snapshot = snapshot
        self.files = files
        self.vanished = vanished
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String
        public var size: Int64
        /// True when the file kept changing while it was read, after every retry; its archived bytes
        /// are a torn read and the snapshot says so.
        public var changed: Bool
        /// How many times the file was read into the archive (later copies replace earlier ones).
        public var attempts: Int

        public init(path: String, sha256: String, size: Int64, changed: Bool, attempts: Int) {
            self.path = path
            self.sha256 = sha256
            self.size = size
            self.changed = changed
            self.attempts = attempts
        }
    }

    /// `sha256sum` text: `<hex>  <path>` per line.
    public var sha256sumText: String {
        files.map { "\($0.sha256)  \($0.path)\n" }.joined()
    }
}
