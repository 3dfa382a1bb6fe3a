import Foundation
import LifeboatArchive
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

/// `lifeboat restore SNAP|FILE|--latest (--target DIR | --in-place [--force]) [--component C…] [--dry-run]`.
///
/// With `--target`, restores into a new or empty folder, all or nothing: the whole archive is
/// decrypted and checked before anything appears in the target. With `--in-place`, restores over the
/// live PBX (``InPlaceRestorer``).
///
/// `--latest` takes the newest snapshot of the host (`--host`, default this machine) and job on the
/// selected stores, from their sidecars alone (no state database: this is how a new machine is
/// rebuilt). Its stored bytes are checked against the sidecar (size and SHA-256) while it is read; a
/// snapshot that fails that check, or cannot be read at all, is skipped for the next older one, and
/// the output says so.
public enum RestoreCommand {
    public struct Options {
        public var reference: String?
        public var latest: Bool
        public var store: String?
        public var host: String?
        public var job: String?
        public var target: String?
        public var components: [String]
        public var dryRun: Bool
        public var identityFile: String?
        public var json: Bool
        /// Restore over the live data, where each component was backed up from.
        public var inPlace: Bool
        /// With `inPlace`: restore even when the firmware gate refuses.
        public var force: Bool

        public init(
            reference: String?, latest: Bool, store: String?, host: String?, job: String?, target: String?,
            components: [String], dryRun: Bool, identityFile: String?, json: Bool, inPlace: Bool = false,
            force: Bool = false
        ) {
            self.reference = reference
            self.latest = latest
            self.store = store
            self.host = host
            self.job = job
            self.target = target
            self.components = components
            self.dryRun = dryRun
            self.identityFile = identityFile
            self.json = json
            self.inPlace = inPlace
            self.force = force
        }
    }

    /// An archive opened for reading, and what its sidecar promises.
    private struct Opened {
        var reading: StoreReading
        var expectedSize: Int64?
        var expectedSHA: String?
        var expectEncrypted: Bool?
        var label: String
    }

    /// `agent` may be nil when restoring a file by hand with `--identity` and no configuration.
    public static func run(agent: Agent?, options: Options) throws -> ExitStatus {
        if options.inPlace && options.target != nil {
            throw CommandError(.usage, "give --target DIR or --in-place, not both")
        }
        guard options.dryRun || options.target != nil || options.inPlace else {
            throw CommandError(.usage, "give --target DIR (a new or empty folder), --in-place, or --dry-run")
        }
        if options.force && !options.inPlace {
            throw CommandError(.usage, "--force is for --in-place (it overrides the firmware version gate)")
        }
        guard (options.reference != nil) != options.latest else {
            throw CommandError(.usage, "give a snapshot id, an archive file, or --latest")
        }
        if options.inPlace && agent == nil {
            throw CommandError(
                .usage, "restoring in place needs a configuration (--config): it names the hooks and database logins")
        }
        let identities: [AgeIdentity]
        if let agent {
            identities = try agent.identities(identityFile: options.identityFile)
        } else if let file = options.identityFile {
            identities = try Agent.loadIdentities(file)
        } else {
            identities = []
        }

        if let reference = options.reference,
            reference.contains("/") || FileManager.default.fileExists(atPath: reference)
        {
            guard FileManager.default.fileExists(atPath: reference) else {
                throw BackupError(.notFound, "archive file \(reference) does not exist")
            }
            var opened = Opened(
                reading: StoreReading(source: try FileSource(path: reference), cleanup: {}), label: reference)
            let sidecarPath = ObjectNaming.sidecarName(forArchive: reference)
            if let data = FileManager.default.contents(atPath: sidecarPath),
                let sidecar = try? LifeboatJSON.decode(Sidecar.self, from: Array(data))
            {
                opened.expectedSize = sidecar.archive.size
                opened.expectedSHA = sidecar.archive.sha256
                opened.expectEncrypted = sidecar.encryption.scheme == "age"
            }
            defer { opened.reading.cleanup() }
            return try restore(opened, agent: agent, identities: identities, options: options)
        }

        guard let agent else {
            throw CommandError(.usage, "restoring a snapshot from a store needs a configuration (--config)")
        }
        let resolver = SnapshotResolver(agent: agent, store: options.store, host: options.host, job: options.job)
        let candidates = options.latest ? try resolver.newestFirst() : [try resolver.resolve(options.reference!)]
        var skipped: [String] = []
        for (index, found) in candidates.enumerated() {
            let label = "\(found.entry.id) from \(found.store.name)"
            do {
                var opened = Opened(
                    reading: try StoreReading.open(found, agent: agent), expectedSize: found.entry.sidecar.archive.size,
                    expectedSHA: found.entry.sidecar.archive.sha256,
                    expectEncrypted: found.entry.sidecar.encryption.scheme == "age", label: label)
                defer { opened.reading.cleanup() }
                if !skipped.isEmpty { opened.label += " (newest readable)" }
                return try restore(opened, agent: agent, identities: identities, options: options)
            } catch  where options.latest && isDamage(error) {
                let note = "snapshot \(label) (\(found.entry.sidecar.created)) skipped: \(error)"
                skipped.append(note)
                StandardError.write("warning: \(note)\n")
                guard index + 1 < candidates.count else { break }
            }
        }
        throw BackupError(
            .integrity,
            "no snapshot of host '\(options.host ?? agent.configuration.host)' could be restored; every candidate failed its check: "
                + skipped.joined(separator: "; "))
    }

    /// An error that says the archive itself (its stored bytes) is bad or missing: the next older
    /// snapshot may be good. Not: a wrong request, an unusable target, a refused snapshot, a store
    /// that cannot be reached.
    static func isDamage(_ error: any Error) -> Bool {
        switch error {
        case let e as BackupError: return e.code == .integrity || e.code == .invalidArchive
        case let e as StoreError: return e.code == .notFound || e.code == .integrity
        case let e as ArchiveError: return e.code != .io
        case is AgeError: return true
        default: return false
        }
    }

    private static func restore(_ opened: Opened, agent: Agent?, identities: [AgeIdentity], options: Options) throws
        -> ExitStatus
    {
        if options.dryRun {
            let manifest = try RestoreRunner.readManifest(input: opened.reading.source, identities: identities)
            let selected = try RestoreRunner.selectComponents(options.components, manifest: manifest)
            let files = manifest.files.filter { selected.contains($0.component) }
            let plan =
                options.inPlace ? try InPlaceRestore.plan(manifest: manifest, components: options.components) : []
            if options.json {
                var object: [String: Any] = [
                    "snapshot": manifest.snapshot.rawValue, "created": manifest.created, "host": manifest.host,
                    "job": manifest.job,
                    "components": manifest.components.filter { selected.contains($0.name) }.map(\.name),
                    "files": files.map { ["path": $0.path, "type": $0.type, "size": $0.size] },
                ]
                if options.inPlace {
                    object["in_place"] = plan.map {
                        ["name": $0.component, "kind": $0.kind, "destinations": $0.destinations]
                    }
                }
                Console.printJSON(object)
            } else {
                Console.out(
                    "dry run: snapshot \(manifest.snapshot) (\(manifest.created), host \(manifest.host), job \(manifest.job), firmware \(manifest.pbx.firmwareVersion ?? "unknown"))"
                )
                for component in manifest.components where selected.contains(component.name) {
                    Console.out(
                        "  component \(component.name) (\(component.kind) from \(component.source)): \(component.fileCount) file(s), \(ByteCount.format(component.bytes)), consistency \(component.consistency)\(component.integrityCheck.map { ", integrity \($0)" } ?? "")"
                    )
                }
                for file in files {
                    Console.out(
                        "    \(file.type == "directory" ? "d" : file.type == "symlink" ? "l" : "-") \(file.path)")
                }
                if options.inPlace {
                    for item in plan {
                        Console.out(
                            "would replace, for \(item.component): \(item.destinations.joined(separator: ", "))")
                    }
                    Console.out("nothing was changed")
                } else {
                    Console.out(
                        "would restore \(files.filter { $0.type == "file" }.count) file(s) into \(options.target ?? "(no target given)"); nothing was written"
                    )
                }
            }
            return .success
        }

        if options.inPlace, let agent {
            return try InPlaceRestorer(
                agent: agent, components: options.components, force: options.force, json: options.json
            )
            .run(
                .init(
                    source: opened.reading.source, expectedSize: opened.expectedSize,
                    expectedSHA256: opened.expectedSHA,
                    expectEncrypted: opened.expectEncrypted, label: opened.label),
                identities: identities)
        }

        let request = RestoreRequest(
            input: opened.reading.source, identities: identities, target: options.target!,
            components: options.components,
            expectedSize: opened.expectedSize, expectedSHA256: opened.expectedSHA, restoreOwnership: geteuid() == 0,
            expectEncrypted: opened.expectEncrypted)
        let result = try RestoreRunner.run(
            request, progress: options.json ? nil : TerminalProgress.ifTerminal("restore \(opened.label)"))
        if options.json {
            Console.printJSON([
                "snapshot": result.manifest.snapshot.rawValue, "target": options.target!,
                "components": result.components,
                "files": result.files, "bytes": result.bytes, "changed_files": result.changedFiles,
            ])
        } else {
            Console.out(
                "restored snapshot \(result.manifest.snapshot) (\(result.components.joined(separator: ", "))): \(result.files) file(s), \(ByteCount.format(result.bytes)) into \(options.target!); every file hash checked"
            )
            for path in result.changedFiles {
                Console.out("  warning: \(path) was changing while it was backed up; its copy may be torn")
            }
        }
        return .success
    }
}
