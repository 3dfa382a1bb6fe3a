import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// What to restore in place.
public struct InPlaceRestoreRequest {
    /// The archive bytes as stored (encrypted or not).
    public var input: any ByteSource
    public var identities: [AgeIdentity]
    /// Components to restore; empty means all.
    public var components: [String]
    /// The stored size and SHA-256 from the sidecar, when known: checked before anything live changes.
    public var expectedSize: Int64?
    public var expectedSHA256: String?
    public var expectEncrypted: Bool?
    public var restoreOwnership: Bool
    /// A private folder for database dumps while they are loaded.
    public var workDirectory: String
    /// The configured sources: a `files` source's globs (what the live tree holds that no snapshot
    /// covers) and a `mariadb`/`mysql` source's login (`defaults_file`), matched by component name.
    public var sources: [SourceSpec]
    /// Called with the manifest, before anything is written; throws to refuse the snapshot.
    public var checkManifest: (Manifest) throws -> Void

    public init(
        input: any ByteSource, identities: [AgeIdentity], components: [String] = [], expectedSize: Int64? = nil,
        expectedSHA256: String? = nil, expectEncrypted: Bool? = nil, restoreOwnership: Bool = false,
        workDirectory: String, sources: [SourceSpec] = [], checkManifest: @escaping (Manifest) throws -> Void = { _ in }
    ) {
        self.input = input
        self.identities = identities
        self.components = components
        self.expectedSize = expectedSize
        self.expectedSHA256 = expectedSHA256
        self.expectEncrypted = expectEncrypted
        self.restoreOwnership = restoreOwnership
        self.workDirectory = workDirectory
        self.sources = sources
        self.checkManifest = checkManifest
    }
}

/// Where a component goes when restored in place.
public struct InPlaceDestination: Sendable, Equatable {
    public var component: String
    public var kind: String
    /// Absolute paths, or `database NAME`.
    public var destinations: [String]
}

/// An in-place restore that failed part-way and was undone: which component failed and why, what was
/// put back, and what could not be.
public struct InPlaceApplyFailure: Error, Sendable, CustomStringConvertible {
    public var component: String
    public var error: String
    /// Per component (in undo order), what was put back.
    public var putBack: [(component: String, what: [String])]
    /// What could not be put back; empty when everything is as it was.
    public var problems: [String]

    public var description: String {
        var text = "component '\(component)' failed: \(error)"
        let back = putBack.filter { !$0.what.isEmpty }.map { "\($0.component): \($0.what.joined(separator: ", "))" }
        text += back.isEmpty ? ". Nothing had been changed." : ". Put back: " + back.joined(separator: "; ") + "."
        if !problems.isEmpty { text += " NOT put back: " + problems.joined(separator: "; ") + "." }
        return text
    }
}

/// Restores a snapshot over the live data, component by component, each atomically, all or nothing.
///
/// 1. `stage`: the whole archive is read, decrypted and checked (every file's SHA-256, the stored
///    size and SHA-256) into staging folders beside each destination (so that the final step is a
///    rename on one file system) and a private folder for dumps; SQLite copies pass
///    `integrity_check`; dumps are loaded into scratch databases. Nothing live has changed, and the
///    PBX may still run.
/// 2. `apply`: each component replaces its live data (a file tree or database file by rename, a
///    database by `RENAME TABLE`), keeping what it replaced. The first failure undoes the failed
///    component and every one applied before it, in reverse order.
/// 3. `commit` removes what was replaced (`NAME.lifeboat-old`, the holding databases) and the staging
///    folders; `discard` removes the staging folders and scratch databases instead.
public final class InPlaceRestore {
    public let manifest: Manifest
    /// The components, in the manifest's order, and where each goes.
    public let plan: [InPlaceDestination]
    /// Changed files the checksum list flags as torn reads.
    public let changedFiles: [String]
    public let files: Int
    public let bytes: Int64
    private let components: [any InPlaceComponent]
    private var applied: [any InPlaceComponent] = []
    private let stagingFolders: [String]
    private let createdFolders: [String]

    private init(
        manifest: Manifest, plan: [InPlaceDestination], components: [any InPlaceComponent], stagingFolders: [String],
        createdFolders: [String], changedFiles: [String], files: Int, bytes: Int64
    ) {
        self.manifest = manifest
        self.plan = plan
        self.components = components
        self.stagingFolders = stagingFolders
        self.createdFolders = createdFolders
        self.changedFiles = changedFiles
        self.files = files
        self.bytes = bytes
    }

    /// Where each selected component of `manifest` goes: the locations the snapshot was taken from.
    public static func plan(manifest: Manifest, components requested: [String]) throws -> [InPlaceDestination] {
        let selected = try RestoreRunner.selectComponents(requested, manifest: manifest)
        var plan: [InPlaceDestination] = []
        for component in manifest.components where selected.contains(component.name) {
            let destinations: [String]
            switch component.kind {
            case "sqlite":
                guard component.source.hasPrefix("/") else {
                    throw InPlaceRestoreError(
                        "component '\(component.name)': its recorded location '\(component.source)' is not an absolute path"
                    )
                }
                destinations = [component.source]
            case "files":
                destinations = fileRoots(component.name, manifest: manifest).map(\.destination)
            case "mariadb", "mysql":
                let listed = component.source.components(separatedBy: " (tables ").first ?? component.source
                destinations = listed.components(separatedBy: ", ").map { "database \($0)" }
            default:
                throw InPlaceRestoreError(
                    "component '\(component.name)' is of kind '\(component.kind)', which this version cannot restore in place; restore it with --target"
                )
            }
            plan.append(InPlaceDestination(component: component.name, kind: component.kind, destinations: destinations))
        }
        // A destination inside another would be replaced twice, the second time inside the first's new tree.
        let paths = plan.flatMap { item in item.destinations.filter { $0.hasPrefix("/") }.map { (item.component, $0) } }
        for (component, path) in paths {
            guard path != "/" else { throw InPlaceRestoreError("component '\(component)' would replace /") }
            if let outer = paths.first(where: { $0.1 != path && path.hasPrefix($0.1 + "/") }) {
                throw InPlaceRestoreError(
                    "component '\(component)' (\(path)) lies inside component '\(outer.0)' (\(outer.1)); restore them one at a time with --component"
                )
            }
        }
        return plan
    }

    /// The trees and single files of a `files` component: its entries whose parent is not an entry.
    static func fileRoots(_ component: String, manifest: Manifest) -> [FileTreeReplacement.Root] {
        let prefix = "components/\(component)/"
        let paths = manifest.files.filter { $0.component == component && $0.path.hasPrefix(prefix) }.map(\.path)
        let all = Set(paths)
        var seen = Set<String>()
        return paths.filter { !all.contains(LocalFiles.parent(of: $0)) && seen.insert($0).inserted }.map { path in
            FileTreeReplacement.Root(destination: "/" + path.dropFirst(prefix.count), staged: "", archivePath: path)
        }
    }

    /// Reads and checks the whole archive into staging and prepares every component; changes nothing
    /// live. Throws (having removed everything it made) when the archive is damaged, the manifest is
    /// refused, or a component cannot be prepared.
    public static func stage(_ request: InPlaceRestoreRequest, progress: (any ProgressObserver)? = nil) throws
        -> InPlaceRestore
    {
        defer { progress?.finished() }
        let scanner = try ArchiveScanner(
            input: request.input, identities: request.identities, progress: progress,
            expectedSize: request.expectedSize, expectEncrypted: request.expectEncrypted)
        let manifest = scanner.manifest
        try request.checkManifest(manifest)
        let plan = try plan(manifest: manifest, components: request.components)
        let selected = Set(plan.map(\.component))
        for item in plan {
            for path in item.destinations where path.hasPrefix("/") {
                for suffix in [""] + SQLiteReplacement.companions {
                    let old = path + ".lifeboat-old" + suffix
                    if LocalFiles.lstatOrNil(old) != nil {
                        throw InPlaceRestoreError(
                            "component '\(item.component)': \(old) exists (left by an earlier in-place restore); look at it, then remove it"
                        )
                    }
                }
            }
        }

        let token = SnapshotID.generate().rawValue
        var folders: [String] = []
        var created: [String] = []
        var extractors: [String: SafeExtractor] = [:]  // by staging folder
        var components: [any InPlaceComponent] = []
        var staged = false
        defer {
            if !staged {
                for component in components { component.discard() }
                for folder in folders { LocalFiles.removeTree(folder) }
                FileSwap.removeEmpty(created)
            }
        }
        /// The staging folder beside `destination`, made on first use.
        func stagingFolder(beside destination: String) throws -> String {
            let folder = LocalFiles.parent(of: destination) + "/.lifeboat-restore-" + token
            if extractors[folder] == nil {
                created += try FileSwap.makeParents(of: destination)
                guard mkdir(folder, 0o700) == 0 else {
                    throw InPlaceRestoreError("cannot create the staging folder \(folder): \(errnoText())")
                }
                folders.append(folder)
                extractors[folder] = try SafeExtractor(root: folder, restoreOwnership: request.restoreOwnership)
            }
            return folder
        }
        let work = request.workDirectory + "/restore-" + token
        try LocalFiles.makeDirectories(request.workDirectory, mode: 0o700)
        guard mkdir(work, 0o700) == 0 else {
            throw InPlaceRestoreError("cannot create the work folder \(work): \(errnoText())")
        }
        folders.append(work)
        extractors[work] = try SafeExtractor(root: work, restoreOwnership: false)

        // Where each archive path goes: a tree root, a database file, or the dump folder.
        var rootFolder: [String: String] = [:]
        var fileFolder: [String: String] = [:]
        var dumpComponents = Set<String>()
        for item in plan {
            switch item.kind {
            case "files":
                for root in fileRoots(item.component, manifest: manifest) {
                    rootFolder[root.archivePath] = try stagingFolder(beside: root.destination)
                }
            case "sqlite":
                let path = manifest.files.first { $0.component == item.component && $0.type == "file" }?.path
                guard let path else {
                    throw InPlaceRestoreError("component '\(item.component)': the manifest lists no database file")
                }
                fileFolder[path] = try stagingFolder(beside: item.destinations[0])
            default:
                dumpComponents.insert(item.component)
            }
        }
        var parts: [String: [String: [String]]] = [:]  // component → database → part paths
        var unexpected: [String] = []
        var files = 0
        var bytes: Int64 = 0
        try scanner.scan { entry, component in
            guard selected.contains(component) else { return .skip }
            if entry.type == .file {
                files += 1
                bytes += entry.size
            }
            if dumpComponents.contains(component) {
                let name = entry.path.split(separator: "/").last.map(String.init) ?? ""
                guard entry.type == .file, let range = name.range(of: ".sql.part-", options: .backwards) else {
                    unexpected.append(entry.path)
                    return .skip
                }
                parts[component, default: [:]][String(name[..<range.lowerBound]), default: []].append(
                    work + "/" + entry.path)
                return .extract(extractors[work]!)
            }
            if let folder = fileFolder[entry.path] { return .extract(extractors[folder]!) }
            var path = entry.path
            while path.contains("/") {
                if let folder = rootFolder[path] { return .extract(extractors[folder]!) }
                path = LocalFiles.parent(of: path)
            }
            unexpected.append(entry.path)
            return .skip
        }
        try scanner.checkDigests(components: selected)
        try RestoreRunner.checkCipherText(
            scanner, expectedSize: request.expectedSize, expectedSHA256: request.expectedSHA256)
        guard unexpected.isEmpty else {
            throw BackupError(
                .invalidArchive,
                "entries the manifest does not account for: \(unexpected.prefix(5).joined(separator: ", "))")
        }
        for extractor in extractors.values { try extractor.finish() }
        extractors = [:]

        for item in plan {
            let source = request.sources.first { $0.name == item.component }
            switch item.kind {
            case "files":
                var include: [String] = []
                var exclude: [String] = []
                if case .files(_, let i, let e) = source?.kind {
                    include = i
                    exclude = e
                }
                let roots = fileRoots(item.component, manifest: manifest).map { root in
                    var root = root
                    root.staged = rootFolder[root.archivePath]! + "/" + root.archivePath
                    return root
                }
                components.append(
                    FileTreeReplacement(name: item.component, roots: roots, include: include, exclude: exclude))
            case "sqlite":
                let (path, folder) = fileFolder.first { $0.key.hasPrefix("components/\(item.component)/") }!
                components.append(
                    SQLiteReplacement(
                        name: item.component, destination: item.destinations[0], staged: folder + "/" + path))
            default:
                var options: MariaDBDumpOptions?
                if case .mariadb(let o) = source?.kind { options = o }
                let client = MariaDBClient(
                    tool: try MariaDBClient.find(
                        flavour: options?.flavour ?? (item.kind == "mysql" ? .mysql : .mariadb)),
                    defaultsFile: options?.defaultsFile, workDirectory: work)
                let databases = (parts[item.component] ?? [:]).sorted { $0.key < $1.key }.map {
                    (name: $0.key, parts: $0.value.sorted())
                }
                guard !databases.isEmpty else {
                    throw InPlaceRestoreError("component '\(item.component)': the archive holds no dump")
                }
                components.append(
                    MariaDBReplacement(name: item.component, databases: databases, client: client, token: token))
            }
        }
        for component in components { try component.prepare() }

        let finalPlan = zip(plan, components).map { item, component in
            InPlaceDestination(component: item.component, kind: item.kind, destinations: component.destinations)
        }
        staged = true
        return InPlaceRestore(
            manifest: manifest, plan: finalPlan, components: components, stagingFolders: folders,
            createdFolders: created,
            changedFiles: scanner.checksums?.files.filter { $0.changed }.map(\.path) ?? [], files: files, bytes: bytes)
    }

    /// Replaces the live data, component by component; `report` hears what each did. On the first
    /// failure everything applied is undone and ``InPlaceApplyFailure`` is thrown.
    public func apply(report: (_ component: String, _ what: String) -> Void) throws {
        for component in components {
            do {
                let what = try component.apply()
                applied.append(component)
                report(component.name, what)
            } catch {
                var putBack: [(component: String, what: [String])] = []
                var problems: [String] = []
                for undone in [component] + applied.reversed() {
                    let result = undone.undo()
                    putBack.append((undone.name, result.putBack))
                    problems += result.problems.map { "\(undone.name): \($0)" }
                }
                applied = []
                var said = "\(error)"
                let prefix = "component '\(component.name)': "
                if said.hasPrefix(prefix) { said.removeFirst(prefix.count) }
                throw InPlaceApplyFailure(component: component.name, error: said, putBack: putBack, problems: problems)
            }
        }
    }

    /// Removes what the applied components replaced and the staging; returns what could not be removed.
    public func commit() -> [String] {
        var problems: [String] = []
        for component in applied { problems += component.commit() }
        applied = []
        discard()
        return problems
    }

    /// Removes the staging folders and scratch databases (after `commit`, after a failed `apply`, or
    /// instead of `apply`).
    public func discard() {
        for component in components { component.discard() }
        for folder in stagingFolders { LocalFiles.removeTree(folder) }
        FileSwap.removeEmpty(createdFolders)
    }
}
