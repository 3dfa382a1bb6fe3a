import Foundation
import LifeboatCore

/// `lifeboat drill [--job J]`: rehearses a restore of each job's newest snapshots now (the daemon does
/// it at `jobs[].drill.schedule`). Exit 0 when every store passed, 1 otherwise.
public enum DrillCommand {
    public static func run(agent: Agent, job name: String?, json: Bool) throws -> ExitStatus {
        let jobs = try name.map { name in
            guard let job = agent.configuration.job(named: name) else {
                throw CommandError(.usage, "no job named '\(name)'")
            }
            return [job]
        } ?? agent.configuration.jobs
        let state = agent.openStateForRecording()
        var reports: [DrillReport] = []
        for job in jobs {
            reports.append(DrillRunner.run(agent: agent, job: job, drill: job.drill, state: state))
        }
        if json {
            Console.printJSON(reports.compactMap { try? JSONSerialization.jsonObject(with: Data(LifeboatJSON.encode($0))) })
        } else {
            for report in reports {
                for store in report.stores {
                    var line = "\(report.job) on \(store.store): \(store.result)"
                    if let snapshot = store.snapshot { line += ", snapshot \(snapshot)" }
                    if let seconds = store.restoreSeconds {
                        line += store.depth == "restore" ? ", restored in \(String(format: "%.1f", seconds)) s" : ", stored bytes checked"
                    }
                    if let error = store.error { line += ": \(error)" }
                    Console.out(line)
                    for check in store.checks { Console.out("  \(check)") }
                }
            }
        }
        return reports.allSatisfy(\.passed) ? .success : .failure
    }
}
