import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatStores

/// `lifeboat prune [--dry-run] [--store S]`: applies each store's retention to this host's jobs.
public enum PruneCommand {
    public static func run(agent: Agent, dryRun: Bool, store: String?, json: Bool) throws -> ExitStatus {
        var rows: [[String: Any]] = []
        var failures = 0
        for config in try agent.selectStores(store) {
            if config.retention.isEmpty {
                if !json { Console.out("\(config.name): no retention configured; nothing to do") }
                continue
            }
            let s = try agent.makeStore(config)
            for job in agent.configuration.jobs where job.stores.contains(config.name) {
                let prefix = ObjectNaming(prefix: "").jobPrefix(host: agent.configuration.host, job: job.name)
                do {
                    let decisions = try Pruner(store: s, prefix: prefix, policy: config.retention, logger: agent.logger)
                        .run(now: Date(), dryRun: dryRun)
                    for d in decisions.sorted(by: { $0.entry.created > $1.entry.created }) {
                        rows.append([
                            "store": config.name, "job": job.name, "id": d.entry.id.rawValue,
                            "created": d.entry.sidecar.created, "keep": d.keep, "reasons": d.reasons,
                        ])
                        if !json {
                            let verb = d.keep ? "keep  " : (dryRun ? "would delete" : "deleted")
                            Console.out("\(config.name)  \(job.name)  \(d.entry.id)  \(d.entry.sidecar.created)  \(verb)  (\(d.reasons.joined(separator: "; ")))")
                        }
                    }
                } catch {
                    failures += 1
                    if !json { Console.out("\(config.name)  \(job.name)  FAILED: \(error)") }
                    rows.append(["store": config.name, "job": job.name, "error": "\(error)"])
                }
            }
        }
        if json { Console.printJSON(rows) }
        return failures == 0 ? .success : .failure
    }
}
