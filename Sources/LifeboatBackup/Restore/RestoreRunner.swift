#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

/// What to restore and where.
public struct RestoreRequest {
    /// The archive bytes as stored (encrypted or not).
    public var input: any ByteSource
    public var identities: [AgeIdentity]
    /// The folder to restore into: it must not exist yet, or be empty.
    public var target: String
    /// Components to restore; empty means all.
    public var components: [String]
    /// The stored size and SHA-256 from the sidecar, when known: checked after reading.
    public var expectedSize: Int64?
    public var expectedSHA256: String?
    public var restoreOwnership: Bool
    /// Whether the sidecar says the archive is encrypted, when there is a sidecar.
    public var expectEncrypted: Bool?

    public init(
        input: any ByteSource, identities: [AgeIdentity], target: String, components: [String] = [],
        expectedSize: Int64? = nil, expectedSHA256: String? = nil, restoreOwnership: Bool = false,
        expectEncrypted: Bool? = nil
    ) {
        self.expectEncrypted = expectEncrypted
        self.input = input
        self.identities = identities
        self.target = target
        self.components = components
        self.expectedSize = expectedSize
        self.expectedSHA256 = expectedSHA256
        self.restoreOwnership = restoreOwnership
    }
}

/// What a restore did.
public struct RestoreResult: Sendable {
    public var manifest: Manifest
    public var components: [String]
    public var files: Int
    public var bytes: Int64
    public var changedFiles: [String]
}

/// Restores an archive into a folder, all or nothing.
///
/// Everything is extracted into a private staging folder beside the target, and every file's SHA-256 is
/// checked against the archive's checksum list; only when the whole archive has been read and checked
/// is the staging folder moved into place. A tampered, truncated or wrongly keyed archive therefore
/// writes nothing into the target. The restored folder has the archive's layout (`lifeboat/…`,
/// `components/<name>/…`), the same as `age -d | tar -x` gives.
public enum RestoreRunner {
    public static func run(_ request: RestoreRequest, progress: (any ProgressObserver)? = nil) throws -> RestoreResult {
        let target = request.target.count > 1 && request.target.hasSuffix("/")
            ? String(request.target.dropLast()) : request.target
        try checkTarget(target)
        let parent = LocalFiles.parent(of: target)
        let staging = parent + "/.lifeboat-restore-" + SnapshotID.generate().rawValue
        guard mkdir(staging, 0o700) == 0 else {
            throw BackupError(.usage, "cannot create a staging folder in \(parent): \(errnoText())")
        }
        var moved = false
        defer { if !moved { LocalFiles.removeTree(staging) } }
        defer { progress?.finished() }

        let scanner = try ArchiveScanner(
            input: request.input, identities: request.identities, progress: progress,
            expectedSize: request.expectedSize, expectEncrypted: request.expectEncrypted)
        let manifest = scanner.manifest
        let selected = try selectComponents(request.components, manifest: manifest)
        let extractor = try SafeExtractor(root: staging, restoreOwnership: request.restoreOwnership)
        var files = 0
        var bytes: Int64 = 0
        try scanner.scan { entry, component in
            guard selected.contains(component) else { return .skip }
            if entry.type == .file {
                files += 1
                bytes += entry.size
            }
            return .extract(extractor)
        }
        try scanner.checkDigests(components: selected)
        try checkCipherText(scanner, expectedSize: request.expectedSize, expectedSHA256: request.expectedSHA256)
        let created = Timestamp.parseISO8601(manifest.created).map { Int64($0.timeIntervalSince1970) } ?? 0
        for (path, contents) in scanner.metadataFiles {
            try extractor.extract(
                ArchiveEntryMetadata(path: path, type: .file, size: Int64(contents.count), mode: 0o644, mtime: created),
                data: MemorySource(contents).read(into:), observe: nil)
        }
        try extractor.finish()

        // Move into place: rename the staging folder, or its children into an existing empty target.
        if LocalFiles.lstatOrNil(target) == nil {
            guard rename(staging, target) == 0 else {
                throw BackupError(.usage, "cannot move the restored files to \(target): \(errnoText())")
            }
        } else {
            for name in try LocalFiles.listDirectory(staging) {
                guard rename(staging + "/" + name, target + "/" + name) == 0 else {
                    throw BackupError(.usage, "cannot move \(name) into \(target): \(errnoText())")
                }
            }
            _ = rmdir(staging)
        }
        moved = true
        let changed = scanner.checksums?.files.filter { $0.changed }.map(\.path) ?? []
        return RestoreResult(
            manifest: manifest, components: manifest.components.map(\.name).filter(selected.contains), files: files,
            bytes: bytes, changedFiles: changed)
    }

    /// Reads only the manifest (a dry run): what would be restored.
    public static func readManifest(input: any ByteSource, identities: [AgeIdentity]) throws -> Manifest {
        try ArchiveScanner(input: input, identities: identities, progress: nil, expectedSize: nil).manifest
    }

    /// The components to restore: the requested ones (each must exist in the snapshot), or all.
    public static func selectComponents(_ requested: [String], manifest: Manifest) throws -> Set<String> {
        let available = manifest.components.map(\.name)
        for name in requested where !available.contains(name) {
            throw BackupError(
                .notFound,
                "the snapshot has no component '\(name)'; it has: \(available.joined(separator: ", "))")
        }
        return Set(requested.isEmpty ? available : requested)
    }

    static func checkCipherText(_ scanner: ArchiveScanner, expectedSize: Int64?, expectedSHA256: String?) throws {
        if let size = expectedSize, scanner.cipherTextCount != size {
            throw BackupError(
                .integrity, "the archive has \(scanner.cipherTextCount) bytes; its sidecar records \(size)")
        }
        if let sha = expectedSHA256, scanner.cipherTextDigest != sha {
            throw BackupError(
                .integrity, "the archive's SHA-256 is \(scanner.cipherTextDigest); its sidecar records \(sha)")
        }
    }

    private static func checkTarget(_ target: String) throws {
        guard let st = LocalFiles.lstatOrNil(target) else {
            guard LocalFiles.lstatOrNil(LocalFiles.parent(of: target)) != nil else {
                throw BackupError(.usage, "the folder that would hold \(target) does not exist")
            }
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw BackupError(.targetNotEmpty, "restore target \(target) exists and is not a folder")
        }
        guard try LocalFiles.listDirectory(target).isEmpty else {
            throw BackupError(
                .targetNotEmpty, "restore target \(target) is not empty; restore into a new or empty folder")
        }
    }
}
