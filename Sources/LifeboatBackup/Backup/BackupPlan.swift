import LifeboatArchive
import LifeboatCore
import LifeboatCrypto

/// Everything a backup run needs to know, resolved from configuration.
public struct BackupPlan: Sendable {
    public var job: String
    public var host: String
    public var sources: [SourceSpec]
    /// age recipients; nil means the archive is not encrypted (`encryption: none`).
    public var recipients: [AgeRecipient]?
    public var compression: ArchiveCompression
    public var pbx: Manifest.PBXInfo
    public var naming: ObjectNaming
    /// A private folder of this job for database copies while they are archived; emptied at the
    /// start of a run and removed at its end.
    public var stagingDirectory: String
    public var agentVersion: String
    /// How many times a file that changes while it is read is read again.
    public var changedFileRetries: Int
    /// The size of the parts a streamed component (a database dump) is archived in; each part is held
    /// in memory until it is full (see ``defaultStreamPartSize``). Not a configuration key: tests lower it.
    public var streamPartSize: Int

    /// 16 MiB: a tar entry's size comes before its data, so a dump of unknown length is held in memory
    /// one part at a time. 16 MiB is little beside a PBX's memory (one buffer per running backup), large
    /// enough that a multi-gigabyte CDR dump stays at a few hundred entries of negligible header overhead,
    /// and with four-digit part numbers it allows dumps of up to 156 GiB.
    public static let defaultStreamPartSize = 16 << 20

    public init(
        job: String, host: String, sources: [SourceSpec], recipients: [AgeRecipient]?,
        compression: ArchiveCompression, pbx: Manifest.PBXInfo, naming: ObjectNaming, stagingDirectory: String,
        agentVersion: String, changedFileRetries: Int = 2, streamPartSize: Int = BackupPlan.defaultStreamPartSize
    ) {
        self.job = job
        self.host = host
        self.sources = sources
        self.recipients = recipients
        self.compression = compression
        self.pbx = pbx
        self.naming = naming
        self.stagingDirectory = stagingDirectory
        self.agentVersion = agentVersion
        self.changedFileRetries = changedFileRetries
        self.streamPartSize = streamPartSize
    }

    /// The archive name's extension: `.tar.zst.age`, or `.tar.zst` unencrypted.
    public var archiveExtension: String {
        compression.fileExtension + (recipients == nil ? "" : ".age")
    }

    /// The sidecar's description of the encryption.
    public var encryptionSummary: Sidecar.Encryption {
        guard let recipients else { return Sidecar.Encryption(scheme: "none", recipients: [], passphrase: false) }
        var fingerprints: [String] = []
        var passphrase = false
        for recipient in recipients {
            switch recipient {
            case .x25519(let r): fingerprints.append(r.fingerprint)
            case .scrypt: passphrase = true
            }
        }
        return Sidecar.Encryption(scheme: "age", recipients: fingerprints, passphrase: passphrase)
    }
}

/// How one store fared in a run.
public struct StoreOutcome: Sendable {
    public var store: String
    /// The error, or nil when the snapshot is committed and verified there.
    public var error: String?
    /// How the store confirmed the upload beyond its size, when it could (`StoredObject.verification`).
    public var verification: String?
    public var succeeded: Bool { error == nil }

    public init(store: String, error: String?, verification: String? = nil) {
        self.store = store
        self.error = error
        self.verification = verification
    }
}

/// The result of a backup run.
public struct BackupResult: Sendable {
    public enum Status: String, Sendable { case succeeded, partial, failed }

    public var snapshot: SnapshotID
    public var archiveName: String
    public var sidecar: Sidecar
    public var outcomes: [StoreOutcome]
    /// Files that kept changing while they were read.
    public var changedFiles: [String]
    public var cleaned: [String]

    public var status: Status {
        let ok = outcomes.filter(\.succeeded).count
        if ok == outcomes.count { return .succeeded }
        return ok == 0 ? .failed : .partial
    }
}
