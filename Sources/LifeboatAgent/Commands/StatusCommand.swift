import Foundation
import LifeboatCore
import LifeboatSchedule

/// `lifeboat status [--job J] [--runs N] [--json]`: each job's schedule and next run, its last run,
/// the newest snapshot on each of its stores and whether it is stale; from the configuration and the
/// state database alone (no store is contacted, nothing is created).
///
/// Exit status 0 when every job is fine, 1 when any job needs attention (see `JobStatus.problems`),
/// so that a monitoring check can run it as it is.
public enum StatusCommand {
    /// How many recent runs `--json` lists per job unless told.
    public static let defaultJSONRuns = 10

    public static func run(agent: Agent, job jobName: String?, runs: Int?, json: Bool, now: Date = Date()) throws
        -> ExitStatus
    {
        if let runs, runs < 0 { throw CommandError(.usage, "--runs must not be negative") }
        let jobs = jobName == nil ? agent.configuration.jobs : [try agent.selectJob(jobName)]
        let path = StateDatabase.path(stateDirectory: agent.configuration.stateDirectory)
        let state = try StateDatabase.openExisting(stateDirectory: agent.configuration.stateDirectory, now: now)
        let statuses = try jobs.map {
            try JobStatus(job: $0, state: state, now: now, recentRuns: runs ?? (json ? defaultJSONRuns : 0))
        }
        let ok = statuses.allSatisfy(\.isOK)

        if json {
            Console.printJSON(
                [
                    "ok": ok, "generated": Timestamp.iso8601(now), "state_database": path,
                    "state_database_exists": state != nil, "jobs": statuses.map(\.jsonObject),
                ] as [String: Any])
        } else {
            printTables(statuses, databasePath: state == nil ? path : nil)
        }
        return ok ? .success : .failure
    }

    // MARK: Text

    private static func printTables(_ statuses: [JobStatus], databasePath missing: String?) {
        guard !statuses.isEmpty else {
            Console.out("no jobs configured")
            return
        }
        Console.out(
            Table.render(
                header: ["JOB", "SCHEDULE", "NEXT RUN", "LAST RUN", "TOOK", "RESULT", "RUNNING", "STALE"],
                rows: statuses.map { s in
                    let zone = s.timeZone
                    return [
                        s.job,
                        s.schedule.map { "\($0) (\(s.timeZoneName))" } ?? "none (by hand)",
                        s.nextRun.map { time($0, zone) } ?? "-",
                        s.lastRun.map { time($0.startedAt, zone) } ?? "never run",
                        s.lastRun?.duration.map { DurationText.render(Int64($0.rounded())) } ?? "-",
                        s.lastRun?.result.rawValue ?? "-",
                        s.running == nil ? "no" : "yes",
                        stale(s.staleAfter, s.isStale, s.staleSince, zone),
                    ]
                }))

        let storeRows = statuses.flatMap { s in
            s.stores.map { store in
                [
                    s.job, store.store, store.lastSuccess.map { time($0.endedAt, s.timeZone) } ?? "never",
                    store.lastSuccess?.snapshot ?? "-",
                    stale(s.staleAfter, store.staleness.isStale, store.staleness.since, s.timeZone),
                ]
            }
        }
        if !storeRows.isEmpty {
            Console.out("")
            Console.out(
                Table.render(header: ["JOB", "STORE", "LAST SUCCESS", "SNAPSHOT", "STALE"], rows: storeRows))
        }

        let runRows = statuses.flatMap { s in
            s.recentRuns.map { run in
                [
                    s.job, "\(run.id)", run.trigger.rawValue, time(run.startedAt, s.timeZone),
                    run.duration.map { DurationText.render(Int64($0.rounded())) } ?? "-", run.result.rawValue,
                    run.snapshot ?? "-",
                ]
            }
        }
        if !runRows.isEmpty {
            Console.out("")
            Console.out(
                Table.render(
                    header: ["JOB", "RUN", "TRIGGER", "STARTED", "TOOK", "RESULT", "SNAPSHOT"], rows: runRows))
        }

        let drillRows = statuses.flatMap { s in
            (s.lastDrill?.stores ?? []).map { store in
                [
                    s.job, store.store, s.lastDrill.map { $0.started } ?? "-", store.result, store.snapshot ?? "-",
                    store.depth ?? "-", store.restoreSeconds.map { String(format: "%.1f s", $0) } ?? "-",
                ]
            }
        }
        if !drillRows.isEmpty {
            Console.out("")
            Console.out(
                Table.render(
                    header: ["JOB", "STORE", "LAST DRILL", "RESULT", "SNAPSHOT", "DEPTH", "RESTORE TOOK"],
                    rows: drillRows))
        }

        var notes: [String] = []
        for s in statuses {
            if let run = s.running {
                notes.append(
                    "\(s.job): running now: run \(run.id) (\(run.trigger), started \(time(run.startedAt, s.timeZone)), pid \(run.process.pid))"
                )
            }
            notes += s.problems.map { "\(s.job): \($0)" }
        }
        if let missing { notes.append("no run recorded yet (no state database at \(missing))") }
        if !notes.isEmpty {
            Console.out("")
            for note in notes { Console.out(note) }
        }
    }

    private static func time(_ date: Date, _ zone: TimeZone) -> String {
        ScheduleText.iso8601(date, in: zone)
    }

    private static func stale(_ staleAfter: Int64?, _ isStale: Bool, _ since: Date?, _ zone: TimeZone) -> String {
        guard staleAfter != nil else { return "-" }
        guard isStale else { return "no" }
        return since.map { "yes, since \(time($0, zone))" } ?? "yes, never succeeded"
    }
}
