import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

/// `lifeboat restore SNAP|FILE|--latest --target DIR [--component C…] [--dry-run]`.
///
/// Restores into a new or empty folder, all or nothing: the whole archive is decrypted and checked
/// before anything appears in the target.
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

        public init(
            reference: String?, latest: Bool, store: String?, host: String?, job: String?, target: String?,
            components: [String], dryRun: Bool, identityFile: String?, json: Bool
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
        }
    }

    /// `agent` may be nil when restoring a file by hand with `--identity` and no configuration.
    public static func run(agent: Agent?, options: Options) throws -> ExitStatus {
        guard options.dryRun || options.target != nil else {
            throw CommandError(.usage, "give --target DIR (a new or empty folder), or --dry-run")
        }
        guard (options.reference != nil) != options.latest else {
            throw CommandError(.usage, "give a snapshot id, an archive file, or --latest")
        }
        let identities: [AgeIdentity]
        if let agent {
            identities = try agent.identities(identityFile: options.identityFile)
        } else if let file = options.identityFile {
            identities = try Agent.loadIdentities(file)
        } else {
            identities = []
        }

        // Where the archive comes from.
        var opened: StoreReading
        var expectedSize: Int64?
        var expectedSHA: String?
        var expectEncrypted: Bool?
        var label: String
        if let reference = options.reference, reference.contains("/") || FileManager.default.fileExists(atPath: reference) {
            guard FileManager.default.fileExists(atPath: reference) else {
                throw BackupError(.notFound, "archive file \(reference) does not exist")
            }
            opened = StoreReading(source: try FileSource(path: reference), cleanup: {})
            let sidecarPath = ObjectNaming.sidecarName(forArchive: reference)
            if let data = FileManager.default.contents(atPath: sidecarPath),
                let sidecar = try? LifeboatJSON.decode(Sidecar.self, from: Array(data))
            {
                expectedSize = sidecar.archive.size
                expectedSHA = sidecar.archive.sha256
                expectEncrypted = sidecar.encryption.scheme == "age"
            }
            label = reference
        } else {
            guard let agent else {
                throw CommandError(.usage, "restoring a snapshot from a store needs a configuration (--config)")
            }
            let resolver = SnapshotResolver(agent: agent, store: options.store, host: options.host, job: options.job)
            let found = options.latest ? try resolver.latest() : try resolver.resolve(options.reference!)
            opened = try StoreReading.open(found, agent: agent)
            expectedSize = found.entry.sidecar.archive.size
            expectedSHA = found.entry.sidecar.archive.sha256
            expectEncrypted = found.entry.sidecar.encryption.scheme == "age"
            label = "\(found.entry.id) from \(found.store.name)"
        }
        defer { opened.cleanup() }

        if options.dryRun {
            let manifest = try RestoreRunner.readManifest(input: opened.source, identities: identities)
            let selected = try RestoreRunner.selectComponents(options.components, manifest: manifest)
            let files = manifest.files.filter { selected.contains($0.component) }
            if options.json {
                Console.printJSON([
                    "snapshot": manifest.snapshot.rawValue, "created": manifest.created, "host": manifest.host,
                    "job": manifest.job, "components": manifest.components.filter { selected.contains($0.name) }.map(\.name),
                    "files": files.map { ["path": $0.path, "type": $0.type, "size": $0.size] },
                ])
            } else {
                Console.out("dry run: snapshot \(manifest.snapshot) (\(manifest.created), host \(manifest.host), job \(manifest.job), firmware \(manifest.pbx.firmwareVersion ?? "unknown"))")
                for component in manifest.components where selected.contains(component.name) {
                    Console.out("  component \(component.name) (\(component.kind) from \(component.source)): \(component.fileCount) file(s), \(ByteCount.format(component.bytes)), consistency \(component.consistency)\(component.integrityCheck.map { ", integrity \($0)" } ?? "")")
                }
                for file in files { Console.out("    \(file.type == "directory" ? "d" : file.type == "symlink" ? "l" : "-") \(file.path)") }
                Console.out("would restore \(files.filter { $0.type == "file" }.count) file(s) into \(options.target ?? "(no target given)"); nothing was written")
            }
            return .success
        }

        let request = RestoreRequest(
            input: opened.source, identities: identities, target: options.target!, components: options.components,
            expectedSize: expectedSize, expectedSHA256: expectedSHA, restoreOwnership: geteuid() == 0,
            expectEncrypted: expectEncrypted)
        let result = try RestoreRunner.run(
            request, progress: options.json ? nil : TerminalProgress.ifTerminal("restore \(label)"))
        if options.json {
            Console.printJSON([
                "snapshot": result.manifest.snapshot.rawValue, "target": options.target!, "components": result.components,
                "files": result.files, "bytes": result.bytes, "changed_files": result.changedFiles,
            ])
        } else {
            Console.out(
                "restored snapshot \(result.manifest.snapshot) (\(result.components.joined(separator: ", "))): \(result.files) file(s), \(ByteCount.format(result.bytes)) into \(options.target!); every file hash checked")
            for path in result.changedFiles {
                Console.out("  warning: \(path) was changing while it was backed up; its copy may be torn")
            }
        }
        return .success
    }
}
