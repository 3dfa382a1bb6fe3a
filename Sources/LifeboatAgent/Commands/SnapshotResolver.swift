import LifeboatBackup
import LifeboatCore
import LifeboatStores

/// Finds snapshots on stores by id, id prefix, or as the latest of a host's job.
struct SnapshotResolver {
    let agent: Agent
    let store: String?
    let host: String?
    let job: String?

    struct Found {
        var entry: CatalogEntry
        var store: any Store
    }

    /// Every snapshot on the selected stores, oldest first; the stores in configuration order.
    func all() throws -> [Found] {
        var result: [Found] = []
        for config in try agent.selectStores(store) {
            let s = try agent.makeStore(config)
            for entry in try SnapshotCatalog.list(store: s, prefix: "").snapshots
            where (host == nil || entry.sidecar.host == host) && (job == nil || entry.sidecar.job == job) {
                result.append(Found(entry: entry, store: s))
            }
        }
        return result
    }

    /// The snapshot `reference` names (its id, or a unique prefix of it).
    func resolve(_ reference: String) throws -> Found {
        let candidates = try all()
        let exact = candidates.filter { $0.entry.id.rawValue == reference }
        if let first = exact.first { return first }
        let matches = candidates.filter { $0.entry.id.rawValue.hasPrefix(reference.lowercased()) }
        let ids = Set(matches.map(\.entry.id))
        guard !ids.isEmpty else { throw BackupError(.notFound, "no snapshot '\(reference)' on \(storesText)") }
        guard ids.count == 1 else {
            throw CommandError(.usage, "'\(reference)' matches several snapshots: \(ids.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        return matches[0]
    }

    /// The snapshots of the host (default: this machine) and job, newest first; a snapshot kept on
    /// several stores appears once per store, in configuration order.
    func newestFirst() throws -> [Found] {
        let own = SnapshotResolver(agent: agent, store: store, host: host ?? agent.configuration.host, job: job)
        let found = try own.all().enumerated().sorted { a, b in
            (a.element.entry.created, a.element.entry.id, -a.offset) > (b.element.entry.created, b.element.entry.id, -b.offset)
        }.map(\.element)
        guard !found.isEmpty else {
            throw BackupError(
                .notFound, "no snapshot of host '\(own.host!)'\(job.map { " and job '\($0)'" } ?? "") on \(storesText)")
        }
        return found
    }

    /// The newest snapshot of the host (default: this machine) and job.
    func latest() throws -> Found {
        let own = SnapshotResolver(agent: agent, store: store, host: host ?? agent.configuration.host, job: job)
        guard let newest = try own.all().max(by: { ($0.entry.created, $0.entry.id) < ($1.entry.created, $1.entry.id) })
        else {
            throw BackupError(
                .notFound, "no snapshot of host '\(own.host!)'\(job.map { " and job '\($0)'" } ?? "") on \(storesText)")
        }
        return newest
    }

    private var storesText: String { store.map { "store '\($0)'" } ?? "any configured store" }
}
