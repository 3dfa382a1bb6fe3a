#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto
import LifeboatStores
import Logging

/// Takes one snapshot: copies the sources, streams them through tar, zstd and age straight into every
/// store at once, commits, writes the sidecars, and reports per store.
///
/// Database dumps (``StreamProducer``s) run while the archive is written: their output goes into the
/// archive as it comes, in parts of ``BackupPlan/streamPartSize``. A dump that fails or is cancelled
/// fails the run like any other error before the commit: every upload is aborted.
///
/// The order on a store is the commit protocol: leftovers of interrupted runs are removed first; the
/// archive is uploaded and committed under its final name; then the sidecar is written. A crash at
/// any moment leaves at most a `.partial` upload or an archive without a sidecar, which the next run
/// removes; neither is ever listed.
public final class BackupRunner {
    public let plan: BackupPlan
    public let stores: [any Store]
    private let logger: Logger
    private let progress: (any ProgressObserver)?
    private let now: () -> Date
    private let cancellation: CancellationFlag?

    /// `cancellation`, when set, is checked between pieces of the archive and before the commit, and
    /// stops a running database dump (its process group is killed): a cancelled run aborts every upload
    /// (nothing is committed under a final name) and throws `BackupError.Code.cancelled`.
    public init(
        plan: BackupPlan, stores: [any Store], logger: Logger, progress: (any ProgressObserver)? = nil,
        now: @escaping () -> Date = Date.init, cancellation: CancellationFlag? = nil
    ) {
        self.plan = plan
        self.stores = stores
        self.logger = logger
        self.progress = progress
        self.now = now
        self.cancellation = cancellation
    }

    /// Throws `BackupError.Code.cancelled` when the run was asked to stop.
    private func checkCancellation() throws {
        if let reason = cancellation?.cancellationReason {
            throw BackupError(.cancelled, "the backup was stopped before it was committed: \(reason)")
        }
    }

    public func run() throws -> BackupResult {
        let id = SnapshotID.generate()
        var created = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        var outcomes: [String: String] = [:]
        var verifications: [String: String] = [:]
        var cleaned: [String] = []

        // 1. Remove what interrupted runs of this job left behind.
        var usable: [any Store] = []
        var newest: Date?
        for store in stores {
            do {
                let left = try SnapshotCatalog.removeLeftovers(
                    store: store, prefix: plan.naming.jobPrefix(host: plan.host, job: plan.job))
                cleaned += left.removed
                newest = ([newest].compactMap { $0 } + left.snapshots.map(\.created)).max()
                usable.append(store)
            } catch {
                logger.error("Store unusable", metadata: ["store": "\(store.name)", "error": "\(error)"])
                outcomes[store.name] = "\(error)"
            }
        }
        for name in cleaned {
            logger.notice("Removed leftover of an interrupted run", metadata: ["object": "\(name)"])
        }
        // Snapshot times of a job strictly increase, so "latest" is never a tie within one second.
        if let newest, newest >= created {
            created = newest.addingTimeInterval(1)
        }

        // 2. Copy databases and scan trees.
        // The job's staging folder: whatever a killed run left there goes first (the caller holds the job lock).
        let staging = plan.stagingDirectory
        LocalFiles.removeTree(staging)
        try LocalFiles.makeDirectories(staging, mode: 0o700)
        defer { LocalFiles.removeTree(staging) }
        let components = try plan.sources.map { try prepare($0, staging: staging) }
        try checkCancellation()
        let manifest = makeManifest(id: id, created: created, components: components)
        let archiveName = plan.naming.archiveName(
            host: plan.host, job: plan.job, created: created, id: id, extension: plan.archiveExtension)

        guard !usable.isEmpty else {
            throw BackupError(.allStoresFailed, "no store is usable: " + describe(outcomes))
        }

        // 3. Stream everything into every store.
        var targets: [FanOutSink.Target] = []
        for store in usable {
            do {
                targets.append(.init(store: store, writer: try store.makeWriter(for: archiveName)))
            } catch {
                outcomes[store.name] = "\(error)"
            }
        }
        let fanOut = FanOutSink(targets)
        let written: (size: Int64, sha256: String, checksums: ChecksumList, streamed: [String: Int64])
        do {
            written = try writeArchive(manifest: manifest, components: components, to: fanOut)
            try checkCancellation()
        } catch {
            fanOut.abortAll()
            for failure in fanOut.failures { outcomes[failure.store.name] = "\(failure.error)" }
            progress?.finished()
            throw error
        }
        progress?.finished()
        for failure in fanOut.failures { outcomes[failure.store.name] = "\(failure.error)" }

        let sidecar = Sidecar(
            snapshot: id, job: plan.job, host: plan.host, created: Timestamp.iso8601(created),
            firmwareVersion: plan.pbx.firmwareVersion, agentVersion: plan.agentVersion,
            components: manifest.components.map {
                .init(name: $0.name, kind: $0.kind, bytes: $0.bytes + (written.streamed[$0.name] ?? 0))
            },
            archive: .init(name: archiveName, size: written.size, sha256: written.sha256),
            compression: manifest.compression, encryption: plan.encryptionSummary)

        // 4. Commit the archive, check it, then write the sidecar that makes it a snapshot.
        let sidecarBytes = try LifeboatJSON.encode(sidecar)
        for target in fanOut.live {
            do {
                let stored = try target.writer.commit()
                guard stored.size == written.size,
                    let seen = try target.store.stat(archiveName), seen.size == written.size
                else {
                    throw StoreError(
                        .integrity, "\(archiveName) on \(target.store.name) does not have the \(written.size) bytes sent")
                }
                try target.store.put(ObjectNaming.sidecarName(forArchive: archiveName), bytes: sidecarBytes)
                outcomes[target.store.name] = nil
                verifications[target.store.name] = stored.verification
                logger.info(
                    "Snapshot committed",
                    metadata: [
                        "store": "\(target.store.name)", "snapshot": "\(id)", "bytes": "\(written.size)",
                    ])
            } catch {
                target.writer.abort()
                try? target.store.delete(archiveName)
                outcomes[target.store.name] = "\(error)"
                logger.error(
                    "Commit failed", metadata: ["store": "\(target.store.name)", "snapshot": "\(id)", "error": "\(error)"])
            }
        }

        let storeOutcomes = stores.map {
            StoreOutcome(store: $0.name, error: outcomes[$0.name], verification: verifications[$0.name])
        }
        return BackupResult(
            snapshot: id, archiveName: archiveName, sidecar: sidecar, outcomes: storeOutcomes,
            changedFiles: written.checksums.files.filter(\.changed).map(\.path), cleaned: cleaned)
    }

    private func describe(_ outcomes: [String: String]) -> String {
        outcomes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
    }

    // MARK: Sources

    private func prepare(_ spec: SourceSpec, staging: String) throws -> PreparedComponent {
        switch spec.kind {
        case .sqlite(let path):
            let base = path.split(separator: "/").last.map(String.init) ?? spec.name
            let copy = staging + "/" + spec.name + ".sqlite-copy"
            let result = try SQLiteSnapshotter.snapshot(source: path, to: copy, component: spec.name)
            guard let original = LocalFiles.lstatOrNil(path), let st = LocalFiles.lstatOrNil(copy) else {
                throw BackupError(.sourceUnreadable, "source '\(spec.name)': \(path) vanished during the copy")
            }
            var metadata = ArchiveEntryMetadata(stat: original, path: "components/\(spec.name)/\(base)", type: .file)
            metadata.size = Int64(st.st_size)
            let entry = PlannedEntry(metadata: metadata, diskPath: copy, isStagedCopy: true)
            logger.debug("SQLite copy checked", metadata: ["source": "\(spec.name)", "bytes": "\(st.st_size)"])
            return PreparedComponent(
                spec: spec, consistency: "sqlite-online-backup", integrityCheck: result, entries: [entry])
        case .files(let paths, let include, let exclude):
            let scanner = FileTreeScanner(component: spec.name, include: include, exclude: exclude)
            var entries: [PlannedEntry] = []
            var seen = Set<String>()
            for path in paths {
                for entry in try scanner.scan(root: path) where seen.insert(entry.archivePath).inserted {
                    entries.append(entry)
                }
            }
            return PreparedComponent(spec: spec, consistency: "file-walk", integrityCheck: nil, entries: entries)
        case .mariadb(let options):
            let dumps = try MariaDBDump.plan(component: spec.name, options: options)
            logger.debug(
                "Database dumps planned",
                metadata: ["source": "\(spec.name)", "tool": "\(dumps[0].tool)", "databases": "\(options.databases)"])
            return PreparedComponent(
                spec: spec, consistency: dumps[0].consistency, integrityCheck: nil, entries: [], streams: dumps)
        }
    }

    private func makeManifest(id: SnapshotID, created: Date, components: [PreparedComponent]) -> Manifest {
        Manifest(
            snapshot: id, created: Timestamp.iso8601(created), host: plan.host, job: plan.job, pbx: plan.pbx,
            agentVersion: plan.agentVersion, compression: plan.compression.summary,
            components: components.map {
                Manifest.Component(
                    name: $0.spec.name, kind: $0.spec.kindName, source: $0.spec.location,
                    consistency: $0.consistency, integrityCheck: $0.integrityCheck, fileCount: $0.fileCount,
                    bytes: $0.bytes)
            },
            files: components.flatMap { component in
                component.entries.map {
                    Manifest.File(
                        path: $0.archivePath, component: component.spec.name, type: $0.type.rawValue, size: $0.size,
                        mode: $0.metadata.mode, mtime: $0.metadata.mtime, linkTarget: $0.metadata.linkTarget)
                }
            })
    }

    // MARK: Archive

    private func writeArchive(manifest: Manifest, components: [PreparedComponent], to output: any ByteSink) throws
        -> (size: Int64, sha256: String, checksums: ChecksumList, streamed: [String: Int64])
    {
        let hashing = HashingSink(output)
        let encryptor = try plan.recipients.map { try AgeEncryptingSink(recipients: $0, output: hashing) }
        let tar = try TarWriter(output: encryptor ?? hashing, compression: plan.compression)
        let created = Timestamp.parseISO8601(manifest.created).map { Int64($0.timeIntervalSince1970) } ?? 0

        try tar.add(metadataEntry(Manifest.entryPath, mtime: created), contents: try LifeboatJSON.encode(manifest))
        // A dump's size is known only at its end.
        let total: Int64? =
            components.contains { !$0.streams.isEmpty } ? nil : components.reduce(Int64(0)) { $0 + $1.bytes }
        var done: Int64 = 0
        var streamed: [String: Int64] = [:]
        var checksums: [ChecksumList.Entry] = []
        var vanished: [String] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }

        for component in components {
            for entry in component.entries {
                try checkCancellation()
                switch entry.type {
                case .directory, .symlink, .hardlink, .other:
                    try tar.add(entry.metadata, contents: [])
                case .file:
                    let base = done
                    let report: (Int64) -> Void = { [progress] n in progress?.progress(done: base + n, total: total) }
                    if let result = try archiveFile(
                        entry, component: component.spec.name, tar: tar, buffer: buffer, report: report)
                    {
                        checksums.append(result)
                        done += result.size
                    } else {
                        vanished.append(entry.archivePath)
                    }
                }
            }
            for stream in component.streams {
                try checkCancellation()
                let base = done
                let report: (Int64) -> Void = { [progress] n in progress?.progress(done: base + n, total: total) }
                let parts = try archiveStream(
                    stream, component: component.spec.name, tar: tar, mtime: created, report: report)
                checksums += parts
                let bytes = parts.reduce(Int64(0)) { $0 + $1.size }
                done += bytes
                streamed[component.spec.name, default: 0] += bytes
            }
        }

        let list = ChecksumList(snapshot: manifest.snapshot, files: checksums, vanished: vanished)
        try tar.add(metadataEntry(ChecksumList.entryPath, mtime: created), contents: try LifeboatJSON.encode(list))
        try tar.add(metadataEntry(ChecksumList.sumsEntryPath, mtime: created), contents: Array(list.sha256sumText.utf8))
        try tar.finish()
        try encryptor?.finish()
        return (hashing.byteCount, Hex.encode(hashing.finalize()), list, streamed)
    }

    /// Runs one producer (a database dump) into the archive as parts; returns their checksum entries.
    private func archiveStream(
        _ stream: any StreamProducer, component: String, tar: TarWriter, mtime: Int64, report: (Int64) -> Void
    ) throws -> [ChecksumList.Entry] {
        // Dumps hold credentials and call data: readable by the owner only when extracted.
        let writer = StreamPartWriter(
            tar: tar, archivePath: stream.archivePath, mode: 0o600, mtime: mtime, partSize: plan.streamPartSize)
        let clock = ContinuousClock()
        let start = clock.now
        var reported: Int64 = 0
        let warnings = try stream.produce(cancellation: cancellation) { bytes in
            try writer.write(bytes)
            if writer.byteCount - reported >= 1 << 20 {
                reported = writer.byteCount
                report(reported)
            }
        }
        let parts = try writer.finish()
        report(writer.byteCount)
        for warning in warnings {
            logger.warning(
                "Dump tool warning", metadata: ["source": "\(component)", "dump": "\(stream)", "message": "\(warning)"])
        }
        logger.info(
            "Stream archived",
            metadata: [
                "source": "\(component)", "dump": "\(stream)", "bytes": "\(writer.byteCount)",
                "parts": "\(parts.count)", "duration": "\(clock.now - start)",
            ])
        return parts
    }

    /// Streams one file into the archive, hashing it; a file that changes while read is read again
    /// (a later tar entry with the same path replaces the earlier one on extraction).
    private func archiveFile(
        _ entry: PlannedEntry, component: String, tar: TarWriter, buffer: UnsafeMutableRawBufferPointer,
        report: (Int64) -> Void
    ) throws -> ChecksumList.Entry? {
        var attempt = 0
        while true {
            attempt += 1
            let fd = open(entry.diskPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 {
                if errno == ENOENT {
                    logger.warning("File vanished before it was read", metadata: ["path": "\(entry.diskPath)"])
                    return nil
                }
                throw BackupError(
                    .sourceUnreadable, "source '\(component)': cannot read \(entry.diskPath): \(errnoText())")
            }
            defer { close(fd) }
            var before = stat()
            fstat(fd, &before)
            var meta = entry.metadata
            meta.size = Int64(before.st_size)
            if !entry.isStagedCopy {
                // The file as it is now: it may have changed since the tree was scanned.
                meta = ArchiveEntryMetadata(stat: before, path: entry.archivePath, type: .file)
            }
            try tar.beginFile(meta)
            let hasher = SHA256Hasher()
            var remaining = Int64(before.st_size)
            var torn = false
            while remaining > 0 {
                let want = Int(min(Int64(buffer.count), remaining))
                let n = Glibc.read(fd, buffer.baseAddress, want)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw BackupError(
                        .sourceUnreadable, "source '\(component)': cannot read \(entry.diskPath): \(errnoText())")
                }
                if n == 0 {
                    torn = true  // shrank while read: the rest is zero padding
                    break
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                hasher.update(chunk)
                try tar.writeData(chunk)
                remaining -= Int64(n)
                if remaining & 0xF_FFFF < Int64(n) {
                    report(Int64(before.st_size) - remaining)
                    try checkCancellation()
                }
            }
            if torn {
                let zeros = [UInt8](repeating: 0, count: 4096)
                while remaining > 0 {
                    let n = Int(min(Int64(zeros.count), remaining))
                    zeros.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    remaining -= Int64(n)
                }
            }
            try tar.endFile()
            var after = stat()
            fstat(fd, &after)
            let changed =
                torn || after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec
                || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec || after.st_ctim.tv_sec != before.st_ctim.tv_sec
                || after.st_ctim.tv_nsec != before.st_ctim.tv_nsec
            if changed && attempt <= plan.changedFileRetries {
                logger.info("File changed while read; reading it again", metadata: ["path": "\(entry.diskPath)"])
                continue
            }
            if changed {
                logger.warning(
                    "File kept changing while read; archived as read", metadata: ["path": "\(entry.diskPath)"])
            }
            return ChecksumList.Entry(
                path: entry.archivePath, sha256: Hex.encode(hasher.finalize()), size: Int64(before.st_size),
                changed: changed, attempts: attempt)
        }
    }

    private func metadataEntry(_ path: String, mtime: Int64) -> ArchiveEntryMetadata {
        ArchiveEntryMetadata(path: path, type: .file, size: 0, mode: 0o644, mtime: mtime)
    }
}

extension ArchiveCompression {
    /// `zstd-3`, `gzip-6`, `none`: as recorded in manifests and sidecars.
    public var summary: String {
        switch algorithm {
        case .none: "none"
        default: level.map { "\(algorithm.rawValue)-\($0)" } ?? algorithm.rawValue
        }
    }
}
