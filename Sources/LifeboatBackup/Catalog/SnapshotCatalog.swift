import Foundation
import LifeboatCore
import LifeboatStores

/// A snapshot as found on a store, from its sidecar alone.
public struct CatalogEntry: Sendable {
    public var store: String
    public var sidecarName: String
    public var sidecar: Sidecar

    public var id: SnapshotID { sidecar.snapshot }
    public var archiveName: String { sidecar.archive.name }
    public var created: Date { Timestamp.parseISO8601(sidecar.created) ?? .distantPast }
}

/// What a store holds: snapshots (archives with sidecars), orphans and unreadable sidecars.
public struct StoreListing: Sendable {
    public var snapshots: [CatalogEntry]
    /// Archives without a sidecar: left by a run that died between upload and commit.
    public var orphans: [String]
    /// Sidecars that could not be read, with the reason.
    public var problems: [String]
}

/// Reads snapshot listings from stores; needs no key.
public enum SnapshotCatalog {
    /// Lists everything under `prefix` (any host's, any job's).
    public static func list(store: any Store, prefix: String) throws -> StoreListing {
        let objects = try store.list(prefix: prefix)
        let names = Set(objects.map(\.name))
        var snapshots: [CatalogEntry] = []
        var problems: [String] = []
        var archivesWithSidecar = Set<String>()
        for object in objects where object.name.hasSuffix(ObjectNaming.sidecarExtension) {
            guard ObjectNaming.parse(object.name) != nil else { continue }
            do {
                let bytes = try store.getBytes(object.name, limit: 1 << 20)
                let sidecar = try LifeboatJSON.decode(Sidecar.self, from: bytes)
                guard ObjectNaming.sidecarName(forArchive: sidecar.archive.name) == object.name else {
                    problems.append("\(object.name): names an archive of another snapshot (\(sidecar.archive.name))")
                    continue
                }
                guard names.contains(sidecar.archive.name) else {
                    problems.append("\(object.name): its archive \(sidecar.archive.name) is missing")
                    continue
                }
                archivesWithSidecar.insert(sidecar.archive.name)
                snapshots.append(CatalogEntry(store: store.name, sidecarName: object.name, sidecar: sidecar))
            } catch {
                problems.append("\(object.name): unreadable sidecar: \(error)")
            }
        }
        let orphans = objects.map(\.name).filter {
            !$0.hasSuffix(ObjectNaming.sidecarExtension) && ObjectNaming.parse($0) != nil
                && !archivesWithSidecar.contains($0)
        }
        snapshots.sort { ($0.created, $0.id) < ($1.created, $1.id) }
        return StoreListing(snapshots: snapshots, orphans: orphans, problems: problems)
    }

    /// Removes interrupted uploads and orphan archives under one job's prefix; returns what was
    /// removed and the job's snapshots that remain.
    public static func removeLeftovers(store: any Store, prefix: String) throws
        -> (removed: [String], snapshots: [CatalogEntry])
    {
        var removed = try store.removeIncomplete(prefix: prefix)
        let listing = try list(store: store, prefix: prefix)
        for orphan in listing.orphans {
            try store.delete(orphan)
            removed.append(orphan)
        }
        return (removed, listing.snapshots)
    }
}
