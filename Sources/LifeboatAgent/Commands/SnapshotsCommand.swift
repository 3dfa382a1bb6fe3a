import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatStores

/// `lifeboat snapshots [--store S] [--host H] [--job J] [--json]`: snapshots on stores, from sidecars alone.
public enum SnapshotsCommand {
    public static func run(agent: Agent, store: String?, host: String?, job: String?, json: Bool) throws -> ExitStatus {
        var entries: [CatalogEntry] = []
        var failures: [String] = []
        let configs = try agent.selectStores(store)
        for config in configs {
            do {
                let listing = try SnapshotCatalog.list(store: try agent.makeStore(config), prefix: "")
                entries += listing.snapshots
                for problem in listing.problems { StandardError.write("warning: \(config.name): \(problem)\n") }
                if !listing.orphans.isEmpty {
                    StandardError.write(
                        "note: \(config.name): \(listing.orphans.count) incomplete archive(s) without a sidecar (removed by the next backup of their job)\n")
                }
            } catch {
                failures.append("\(config.name): \(error)")
                StandardError.write("error: \(config.name): \(error)\n")
            }
        }
        entries = entries.filter { (host == nil || $0.sidecar.host == host) && (job == nil || $0.sidecar.job == job) }
        entries.sort { ($0.created, $0.id, $0.store) < ($1.created, $1.id, $1.store) }
        if json {
            Console.printJSON(entries.map(describe))
        } else if entries.isEmpty {
            Console.out("no snapshots")
        } else {
            let rows = entries.map { e in
                [
                    e.id.rawValue, e.sidecar.created, e.sidecar.host, e.sidecar.job, e.store,
                    ByteCount.format(e.sidecar.archive.size), e.sidecar.firmwareVersion ?? "-",
                    e.sidecar.components.map(\.name).joined(separator: ","),
                ]
            }
            Console.out(Table.render(header: ["ID", "CREATED", "HOST", "JOB", "STORE", "SIZE", "FIRMWARE", "COMPONENTS"], rows: rows))
        }
        if failures.isEmpty { return .success }
        return failures.count == configs.count ? .failure : .partial
    }

    static func describe(_ e: CatalogEntry) -> [String: Any] {
        [
            "id": e.id.rawValue, "store": e.store, "job": e.sidecar.job, "host": e.sidecar.host,
            "created": e.sidecar.created, "archive": e.archiveName, "size": e.sidecar.archive.size,
            "sha256": e.sidecar.archive.sha256, "firmware_version": e.sidecar.firmwareVersion as Any? ?? NSNull(),
            "compression": e.sidecar.compression, "encryption": e.sidecar.encryption.scheme,
            "components": e.sidecar.components.map { ["name": $0.name, "kind": $0.kind, "bytes": $0.bytes] },
        ]
    }
}

/// Plain text tables with aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
