#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

/// The result of verifying one snapshot.
public struct VerifyReport: Sendable {
    public var snapshot: SnapshotID
    public var store: String
    public var deep: Bool
    public var files: Int
    public var sqliteChecks: [String: String]
}

/// Checks archives: the stored bytes against the sidecar (no key needed), and, deep, every file's
/// SHA-256 and every SQLite database's integrity after decryption.
public enum Verifier {
    /// Streams the archive and compares its size and SHA-256 with the sidecar.
    public static func verifyCipherText(
        entry: CatalogEntry, store: any Store, progress: (any ProgressObserver)? = nil
    ) throws -> VerifyReport {
        let sink = HashingSink(ProgressSink(progress: progress, total: entry.sidecar.archive.size))
        defer { progress?.finished() }
        do {
            try store.get(entry.archiveName, into: sink)
        } catch let error as StoreError where error.code == .notFound {
            throw BackupError(.notFound, "snapshot \(entry.id): its archive \(entry.archiveName) is missing")
        }
        let digest = Hex.encode(sink.finalize())
        guard sink.byteCount == entry.sidecar.archive.size else {
            throw BackupError(
                .integrity,
                "snapshot \(entry.id) on \(store.name): the archive has \(sink.byteCount) bytes, the sidecar records \(entry.sidecar.archive.size)")
        }
        guard digest == entry.sidecar.archive.sha256 else {
            throw BackupError(
                .integrity,
                "snapshot \(entry.id) on \(store.name): the archive's SHA-256 is \(digest), the sidecar records \(entry.sidecar.archive.sha256)")
        }
        return VerifyReport(snapshot: entry.id, store: store.name, deep: false, files: 0, sqliteChecks: [:])
    }

    /// Decrypts and reads the whole archive: every file hash, the structure, and SQLite integrity
    /// (databases are extracted into `scratch`, checked and removed). Also checks the stored bytes
    /// against `expected` (size and SHA-256) when given.
    public static func verifyDeep(
        input: any ByteSource, identities: [AgeIdentity], expectedSize: Int64?, expectedSHA256: String?,
        scratch: String, store: String, expectEncrypted: Bool? = nil, progress: (any ProgressObserver)? = nil
    ) throws -> VerifyReport {
        let folder = scratch + "/verify-" + SnapshotID.generate().rawValue
        try LocalFiles.makeDirectories(folder, mode: 0o700)
        defer { LocalFiles.removeTree(folder) }
        defer { progress?.finished() }
        let scanner = try ArchiveScanner(
            input: input, identities: identities, progress: progress, expectedSize: expectedSize,
            expectEncrypted: expectEncrypted)
        let sqlite = Set(scanner.manifest.components.filter { $0.kind == "sqlite" }.map(\.name))
        let extractor = try SafeExtractor(root: folder, restoreOwnership: false)
        var files = 0
        try scanner.scan { entry, component in
            if entry.type == .file { files += 1 }
            return sqlite.contains(component) ? .extract(extractor) : .hash
        }
        try scanner.checkDigests(components: Set(scanner.manifest.components.map(\.name)))
        try RestoreRunner.checkCipherText(scanner, expectedSize: expectedSize, expectedSHA256: expectedSHA256)
        try extractor.finish()
        var checks: [String: String] = [:]
        for component in scanner.manifest.components where component.kind == "sqlite" {
            for file in scanner.manifest.files where file.component == component.name && file.type == "file" {
                let result = try SQLiteSnapshotter.integrityCheck(path: folder + "/" + file.path)
                checks[file.path] = result
                guard result == "ok" else {
                    throw BackupError(
                        .integrity, "\(file.path) in snapshot \(scanner.manifest.snapshot) fails integrity_check: \(result)")
                }
            }
        }
        return VerifyReport(
            snapshot: scanner.manifest.snapshot, store: store, deep: true, files: files, sqliteChecks: checks)
    }
}

/// Discards bytes, reporting progress.
final class ProgressSink: ByteSink {
    private let progress: (any ProgressObserver)?
    private let total: Int64?
    private var done: Int64 = 0
    private var last: Int64 = 0

    init(progress: (any ProgressObserver)?, total: Int64?) {
        self.progress = progress
        self.total = total
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        done += Int64(bytes.count)
        if done - last >= 1 << 20 {
            last = done
            progress?.progress(done: done, total: total)
        }
    }
}
