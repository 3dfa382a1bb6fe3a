import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatStores

/// `lifeboat backup [--job J] [--store S] [--json]`: one snapshot now, then retention on each store
/// that committed it; the run is recorded in the state database (`BackupJobRunner`).
public enum BackupCommand {
    public static func run(agent: Agent, job jobName: String?, store storeName: String?, json: Bool) throws
        -> ExitStatus
    {
        let job = try agent.selectJob(jobName)
        var storeConfigs = job.stores.compactMap { agent.configuration.store(named: $0) }
        if let storeName {
            guard storeConfigs.contains(where: { $0.name == storeName }) else {
                throw CommandError(
                    .usage, "job '\(job.name)' does not use a store named '\(storeName)' (it uses \(job.stores.joined(separator: ", ")))")
            }
            storeConfigs = storeConfigs.filter { $0.name == storeName }
        }
        let report = try BackupJobRunner(
            agent: agent, job: job, stores: storeConfigs, trigger: .manual, state: agent.openStateForRecording(),
            progress: json ? nil : TerminalProgress.ifTerminal("backup \(job.name)")
        ).run()
        let result = report.result
        let pruned = report.pruned
        let retentionErrors = report.retentionErrors
        let status = report.exitStatus

        if json {
            let object: [String: Any] = [
                "snapshot": result.snapshot.rawValue, "job": job.name, "host": result.sidecar.host,
                "created": result.sidecar.created, "archive": result.archiveName, "size": result.sidecar.archive.size,
                "sha256": result.sidecar.archive.sha256, "status": result.status.rawValue,
                "stores": result.outcomes.map { outcome -> [String: Any] in
                    var o: [String: Any] = ["store": outcome.store, "ok": outcome.succeeded]
                    if let e = outcome.error { o["error"] = e }
                    if let v = outcome.verification { o["verification"] = v }
                    if let p = pruned[outcome.store] { o["pruned"] = p }
                    if let r = retentionErrors[outcome.store] { o["retention_error"] = r }
                    return o
                },
                "changed_files": result.changedFiles, "cleaned": result.cleaned,
            ]
            Console.printJSON(object)
        } else {
            let bytes = result.sidecar.components.reduce(Int64(0)) { $0 + $1.bytes }
            Console.out(
                "snapshot \(result.snapshot) of job \(job.name): \(ByteCount.format(bytes)) in \(result.sidecar.components.count) component(s), archive \(ByteCount.format(result.sidecar.archive.size))")
            for outcome in result.outcomes {
                if let error = outcome.error {
                    Console.out("  \(outcome.store): FAILED: \(error)")
                } else {
                    var line = "  \(outcome.store): stored \(result.archiveName)"
                    if let v = outcome.verification { line += " (checked: \(v))" }
                    if let p = pruned[outcome.store], !p.isEmpty { line += "; pruned \(p.joined(separator: ", "))" }
                    Console.out(line)
                }
                if let r = retentionErrors[outcome.store] { Console.out("  \(outcome.store): retention FAILED: \(r)") }
            }
            for path in result.changedFiles {
                Console.out("  warning: \(path) kept changing while it was read; archived as read")
            }
            if !result.cleaned.isEmpty {
                Console.out("  removed \(result.cleaned.count) leftover(s) of an interrupted run")
            }
        }
        return status
    }
}

/// Standard output for commands.
public enum Console {
    public static func out(_ line: String) {
        print(line)
    }

    /// Prints a JSON value with sorted keys.
    public static func printJSON(_ value: Any) {
        let data = (try? JSONSerialization.data(
            withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8)
        print(String(decoding: data, as: UTF8.self))
    }
}
