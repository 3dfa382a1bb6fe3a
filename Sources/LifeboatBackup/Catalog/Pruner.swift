import Foundation
import LifeboatCore
import LifeboatStores
import Logging

/// One snapshot's fate in a prune.
public struct PruneDecision: Sendable {
    public var entry: CatalogEntry
    public var keep: Bool
    public var reasons: [String]
}

/// Applies a retention policy to one host's job on one store.
///
/// Before deleting anything it verifies the newest snapshot's stored bytes against its sidecar (walking
/// back to the newest one that verifies); that snapshot is always kept, and if none verifies nothing
/// is deleted. Deletion removes the sidecar first, so an interrupted prune leaves an orphan archive
/// (removed by the next backup), never a listed snapshot without its archive.
public struct Pruner {
    public var store: any Store
    public var prefix: String
    public var policy: RetentionPolicy
    public var calendar: Calendar
    public var logger: Logger

    public init(store: any Store, prefix: String, policy: RetentionPolicy, calendar: Calendar = .current, logger: Logger) {
        self.store = store
        self.prefix = prefix
        self.policy = policy
        self.calendar = calendar
        self.logger = logger
    }

    /// Decides, and unless `dryRun`, deletes. `verifiedNewest` names a snapshot already verified on this
    /// store in this run (the backup that just committed it), which then needs no second read.
    public func run(now: Date, dryRun: Bool, verifiedNewest: SnapshotID? = nil) throws -> [PruneDecision] {
        let listing = try SnapshotCatalog.list(store: store, prefix: prefix)
        let entries = listing.snapshots
        guard !entries.isEmpty, !policy.isEmpty else {
            return entries.map { PruneDecision(entry: $0, keep: true, reasons: ["no retention rule"]) }
        }
        var decisions = policy.apply(
            to: entries.map { RetentionPolicy.Item(id: $0.id, created: $0.created) }, now: now, calendar: calendar)
        guard decisions.contains(where: { !$0.keep }) else {
            return decisions.compactMap { d in
                entries.first { $0.id == d.item.id }.map { PruneDecision(entry: $0, keep: true, reasons: d.reasons) }
            }
        }

        // The newest snapshot that verifies is always kept.
        let newestFirst = entries.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
        var good: CatalogEntry?
        for entry in newestFirst {
            if entry.id == verifiedNewest {
                good = entry
                break
            }
            do {
                _ = try Verifier.verifyCipherText(entry: entry, store: store)
                good = entry
                break
            } catch {
                logger.error(
                    "Snapshot fails verification; retention will not count it as good",
                    metadata: ["store": "\(store.name)", "snapshot": "\(entry.id)", "error": "\(error)"])
            }
        }
        guard let good else {
            throw BackupError(
                .integrity, "no snapshot under \(prefix) on \(store.name) verifies; retention deleted nothing")
        }
        if let i = decisions.firstIndex(where: { $0.item.id == good.id }), !decisions[i].keep {
            decisions[i].keep = true
            decisions[i].reasons = ["newest snapshot that verifies"]
        }

        var result: [PruneDecision] = []
        for decision in decisions {
            guard let entry = entries.first(where: { $0.id == decision.item.id }) else { continue }
            result.append(PruneDecision(entry: entry, keep: decision.keep, reasons: decision.reasons))
            guard !decision.keep, !dryRun else { continue }
            try store.delete(entry.sidecarName)
            try store.delete(entry.archiveName)
            logger.notice(
                "Snapshot pruned",
                metadata: [
                    "store": "\(store.name)", "snapshot": "\(entry.id)",
                    "reason": "\(decision.reasons.joined(separator: ", "))",
                ])
        }
        return result
    }
}
