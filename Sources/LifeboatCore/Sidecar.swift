/// The plain JSON written beside an archive once the archive is complete and verified on a store.
///
/// A snapshot exists on a store only when its sidecar does. It holds no file names, so listing,
/// retention and cipher-text verification need no key and reveal nothing about the contents.
public struct Sidecar: Codable, Sendable, Equatable {
    public static let currentFormat = 1

    public var format: Int
    public var snapshot: SnapshotID
    public var job: String
    public var host: String
    /// ISO 8601 UTC.
    public var created: String
    public var firmwareVersion: String?
    public var agentVersion: String
    public var components: [Component]
    public var archive: Archive
    public var compression: String
    public var encryption: Encryption

    public init(
        snapshot: SnapshotID, job: String, host: String, created: String, firmwareVersion: String?,
        agentVersion: String, components: [Component], archive: Archive, compression: String,
        encryption: Encryption
    ) {
        self.format = Self.currentFormat
        self.snapshot = snapshot
        self.job = job
        self.host = host
        self.created = created
        self.firmwareVersion = firmwareVersion
        self.agentVersion = agentVersion
        self.components = components
        self.archive = archive
        self.compression = compression
        self.encryption = encryption
    }

    public struct Component: Codable, Sendable, Equatable {
        public var name: String
        public var kind: String
        public var bytes: Int64
        public init(name: String, kind: String, bytes: Int64) {
            self.name = name
            self.kind = kind
            self.bytes = bytes
        }
    }

    public struct Archive: Codable, Sendable, Equatable {
        /// The archive's object name on the store.
        public var name: String
        public var size: Int64
        /// Lower-case hex SHA-256 of the stored (encrypted) bytes.
        public var sha256: String
        public init(name: String, size: Int64, sha256: String) {
            self.name = name
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct Encryption: Codable, Sendable, Equatable {
        /// `age` or `none`.
        public var scheme: String
        /// Fingerprints of the X25519 recipients (first 8 bytes of SHA-256 of the public key, hex).
        public var recipients: [String]
        public var passphrase: Bool
        public init(scheme: String, recipients: [String], passphrase: Bool) {
            self.scheme = scheme
            self.recipients = recipients
            self.passphrase = passphrase
        }
    }
}
