#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatArchive
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

/// The agent's configuration, loaded from YAML (`/etc/lifeboat/lifeboat.yaml` by default).
///
/// Every key is documented in `etc/lifeboat.yaml`. Unknown keys are errors, so that a typo never
/// silently disables part of a backup.
public struct Configuration: Sendable {
    /// The path the configuration was read from.
    public var file: String
    /// `host`: the name this machine's snapshots are filed under (default: the hostname).
    public var host: String
    /// `state_dir`: private working folder for database copies, locks and state (default `/var/lib/lifeboat`).
    public var stateDirectory: String
    /// `pbx`: what the PBX is and where its firmware version is read.
    public var pbx: PBXConfiguration
    /// `encryption`: age recipients, passphrase and identity; nil when `encryption: none`.
    public var encryption: EncryptionConfiguration?
    /// `encryption.compression` (or top-level `compression`): the archive's compression.
    public var compression: ArchiveCompression
    /// `sources`: what snapshots hold.
    public var sources: [SourceSpec]
    /// `stores`: where snapshots go.
    public var stores: [StoreConfiguration]
    /// `jobs`: which sources go to which stores.
    public var jobs: [JobConfiguration]
    /// `api`: the HTTP listener of the daemon (metrics, status); nil when not configured.
    public var api: APIConfiguration?
    /// `shutdown_grace`: how long the daemon lets a running job finish after SIGTERM (default 60 s).
    public var shutdownGrace: Int64 = 60
    /// `notifications`: contacts and channels of the relay; nil when not configured.
    public var notifications: NotificationsConfiguration?
    /// `firmware`: the signed update feed; nil when not configured.
    public var firmware: FirmwareConfiguration?
    /// `sources[].pre_restore` / `post_restore`, by source name: run around an in-place restore of
    /// that source's component.
    public var sourceRestoreHooks: [String: RestoreHooks] = [:]

    public func job(named name: String) -> JobConfiguration? { jobs.first { $0.name == name } }
    public func store(named name: String) -> StoreConfiguration? { stores.first { $0.name == name } }
}

/// `pbx:` — the product and its firmware version.
public struct PBXConfiguration: Sendable {
    /// `product`: e.g. `asterisk`, `freepbx`, `yeastar`.
    public var product: String?
    /// `firmware_version_file`: a file whose first line is the running firmware version.
    public var firmwareVersionFile: String?
    /// `firmware_version_command`: an argument vector that prints the version.
    public var firmwareVersionCommand: [String]?
}

/// `encryption:` — how archives are encrypted.
public struct EncryptionConfiguration: Sendable {
    /// `recipients` and `recipients_file`: X25519 public keys (`age1…`).
    public var recipients: [AgeX25519Recipient]
    /// `passphrase`: an optional scrypt recipient (a secret).
    public var passphrase: Secret?
    /// `scrypt_work_factor`: log2 of scrypt's N for the passphrase recipient (default 18).
    public var scryptWorkFactor: Int
    /// `identity_file`: the private key, needed only by restore and `verify --deep`.
    public var identityFile: String?
    var identityFileLine: Int?

    /// The age recipients of new archives.
    public var ageRecipients: [AgeRecipient] {
        var result = recipients.map { AgeRecipient.x25519($0) }
        if let passphrase { result.append(.scrypt(passphrase: passphrase.reveal(), workFactor: scryptWorkFactor)) }
        return result
    }
}

/// `stores[]`: one destination.
public struct StoreConfiguration: Sendable {
    public enum Kind: Sendable {
        /// `kind: local`, `path`: a folder.
        case local(path: String)
        /// `kind: ftp`: `url`, `tls`, `username`, `password`, `ca_file`, `allow_insecure`.
        case ftp(FTPStoreConfiguration, allowInsecure: Bool)
        /// `kind: sftp`: `host`, `port`, `username`, `path`, `password` or `private_key_file`
        /// (+ `passphrase`), `known_hosts_file`.
        case sftp(SFTPStoreConfiguration)
        /// `kind: s3`: `endpoint`, `region`, `bucket`, `path_style`, `access_key_id`,
        /// `secret_access_key`, `multipart_threshold`, `part_size`, `concurrency`, `storage_class`,
        /// `object_lock: {mode, days}`, `ca_file`, `allow_insecure` (for an http:// endpoint).
        case s3(S3StoreConfiguration)
        /// `kind: gcs`: `bucket`, `credentials_file` (read and checked at load), `endpoint`, `chunk_size`,
        /// `ca_file`, `allow_insecure`.
        case gcs(GCSStoreConfiguration)
        /// `kind: sharepoint`: `tenant_id`, `client_id`, `client_secret` or `client_certificate_file`
        /// (+ `client_certificate_key_file`), `site`, `drive_id` or `drive_name`, `folder`, `chunk_size`,
        /// `graph_url`, `login_url`, `ca_file`, `allow_insecure`. Uploads are spooled under `state_dir`.
        case sharepoint(SharePointStoreConfiguration)
    }

    /// `name`: how jobs and the CLI refer to it.
    public var name: String
    public var kind: Kind
    /// `prefix`: a folder inside the store under which snapshots are filed (default none).
    public var prefix: String
    /// `retention`: which snapshots to keep (default: all).
    public var retention: RetentionPolicy
}

/// `jobs[]`: a named backup.
public struct JobConfiguration: Sendable {
    /// `name`.
    public var name: String
    /// `schedule`: a cron expression for the daemon.
    public var schedule: String?
    /// `timezone`: the schedule's IANA time zone.
    public var timezone: String?
    /// `sources`: names of sources.
    public var sources: [String]
    /// `stores`: names of stores.
    public var stores: [String]
    /// `stale_after`: seconds without a successful snapshot before the job counts as stale.
    public var staleAfter: Int64?
    /// `jitter`: the daemon starts each scheduled run up to this many seconds late, at random (default 0).
    public var jitter: Int64 = 0
    /// `drill`: when the daemon rehearses a restore of the job's newest snapshots.
    public var drill: DrillConfiguration?
    /// `pre_backup`: commands run in order before the backup; the first that fails stops the run
    /// (`failed`, with its output), and the backup does not start.
    public var preBackup: [HookCommand] = []
    /// `post_backup`: commands run after the backup whatever its result, with `LIFEBOAT_RESULT`
    /// (`succeeded`, `partial`, `failed`); their failure is recorded and does not change the result.
    public var postBackup: [HookCommand] = []
    /// `pre_restore` / `post_restore`: run around an in-place restore of this job's snapshots, before
    /// (`pre_restore`) and after (`post_restore`) those of the restored components' sources.
    public var restoreHooks = RestoreHooks()
}

/// `api:` — the daemon's HTTP listener, on the loopback interface only.
public struct APIConfiguration: Sendable {
    /// From `listen`: `127.0.0.1` or `::1`.
    public var host: String
    public var port: Int
    /// `token`: every request must carry `Authorization: Bearer <token>`.
    public var token: Secret
}

extension Configuration {
    /// Loads and validates a configuration file.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> Configuration
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ConfigurationError(file: path, keyPath: "", line: nil, message: "the configuration file \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, keyPath: "", line: nil, message: "the file is not UTF-8 text")
        }
        var st = stat()
        let readableByOthers = stat(path, &st) == 0 && (st.st_mode & 0o004) != 0
        return try ConfigurationLoader(file: path, environment: environment, fileReadableByOthers: readableByOthers)
            .load(text)
    }
}

