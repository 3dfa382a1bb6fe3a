import Foundation
import GRDB
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto
import LifeboatStores

/// `jobs[].drill`: when the daemon rehearses a restore of the job's newest snapshots.
public struct DrillConfiguration: Sendable {
    /// `schedule` (cron), read in `timezone` (default: the job's, else the machine's).
    public var schedule: String
    public var timezone: String?
    /// `database_defaults_file`: a MariaDB option file whose login may create and drop databases;
    /// with it, MariaDB dumps are loaded into a scratch database (`lifeboat_drill_<job>`) and dropped.
    public var databaseDefaultsFile: String?
}

/// What one restore drill of a job found, per store; kept in the state database
/// (`drill.last.<job>`) for `lifeboat status`.
public struct DrillReport: Sendable, Codable, Equatable {
    public struct StoreResult: Sendable, Codable, Equatable {
        public var store: String
        public var snapshot: String?
        public var created: String?
        /// `passed` or `failed`.
        public var result: String
        /// `cipher-text` (no identity: the stored bytes against the sidecar) or `restore` (decrypted,
        /// restored into a scratch folder, every file hash, SQLite integrity, MariaDB dumps loaded).
        public var depth: String?
        public var bytes: Int64?
        public var files: Int?
        /// The seconds the restore took: the measured recovery time.
        public var restoreSeconds: Double?
        public var checks: [String]
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case store, snapshot, created, result, depth, bytes, files, checks, error
            case restoreSeconds = "restore_seconds"
        }
    }

    public var job: String
    public var started: String
    public var ended: String
    public var result: String
    public var stores: [StoreResult]

    public var passed: Bool { result == "passed" }
}

/// Rehearses a restore of a job's newest snapshot on each of its stores, as an operator would on the
/// day of a disaster: fetch it, check the stored bytes against the sidecar, and — when an identity is
/// configured — restore it into a scratch folder under `state_dir`, check every file hash and every
/// SQLite database's integrity, and load MariaDB dumps into a scratch database when
/// `database_defaults_file` is set. The result goes to the state database; a failure raises a
/// `verify.failed` alert.
public enum DrillRunner {
    static func settingKey(job: String) -> String { "drill.last." + job }

    /// Runs the drill of `job` now. Blocking: run it on a thread of its own.
    @discardableResult
    public static func run(
        agent: Agent, job: JobConfiguration, drill: DrillConfiguration?, state: StateDatabase?,
        now: () -> Date = Date.init
    ) -> DrillReport {
        let started = now()
        var results: [DrillReport.StoreResult] = []
        let identities = (try? agent.identities(identityFile: nil)) ?? []
        let canRestore = agent.configuration.encryption == nil || !identities.isEmpty
        for storeName in job.stores {
            var result = DrillReport.StoreResult(store: storeName, result: "failed", checks: [])
            do {
                try rehearse(
                    store: storeName, agent: agent, job: job, databaseDefaultsFile: drill?.databaseDefaultsFile,
                    identities: identities, restore: canRestore, into: &result)
                result.result = "passed"
            } catch {
                result.error = "\(error)"
            }
            results.append(result)
        }
        let report = DrillReport(
            job: job.name, started: Timestamp.iso8601(started), ended: Timestamp.iso8601(now()),
            result: results.allSatisfy { $0.result == "passed" } ? "passed" : "failed", stores: results)
        record(report, agent: agent, state: state, at: now())
        return report
    }

    /// The last drill of `job`, or nil.
    public static func last(job: String, state: StateDatabase) throws -> DrillReport? {
        guard let stored = try state.setting(settingKey(job: job)) else { return nil }
        return try? LifeboatJSON.decode(DrillReport.self, from: Array(stored.value.utf8))
    }

    private static func rehearse(
        store storeName: String, agent: Agent, job: JobConfiguration, databaseDefaultsFile: String?,
        identities: [AgeIdentity], restore: Bool, into result: inout DrillReport.StoreResult
    ) throws {
        let resolver = SnapshotResolver(agent: agent, store: storeName, host: agent.configuration.host, job: job.name)
        let found = try resolver.latest()
        result.snapshot = found.entry.id.rawValue
        result.created = Timestamp.iso8601(found.entry.created)
        result.bytes = found.entry.sidecar.archive.size
        let clock = ContinuousClock()
        let begin = clock.now
        guard restore else {
            _ = try Verifier.verifyCipherText(entry: found.entry, store: found.store)
            result.depth = "cipher-text"
            result.checks.append("stored bytes match the sidecar (size and SHA-256)")
            result.restoreSeconds = seconds(clock.now - begin)
            return
        }
        result.depth = "restore"
        let drills = agent.configuration.stateDirectory + "/drills"
        // What an earlier drill of this job left (the daemon stopped in the middle) goes first.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: drills)) ?? []
        where name.hasPrefix(job.name + "-") && !name.dropFirst(job.name.count + 1).contains("-") {
            LocalFiles.removeTree(drills + "/" + name)
        }
        let scratch = drills + "/" + job.name + "-" + found.entry.id.rawValue
        try LocalFiles.makeDirectories(LocalFiles.parent(of: scratch), mode: 0o700)
        defer { LocalFiles.removeTree(scratch) }
        let opened = try StoreReading.open(found, agent: agent)
        defer { opened.cleanup() }
        let restored = try RestoreRunner.run(
            RestoreRequest(
                input: opened.source, identities: identities, target: scratch, components: [],
                expectedSize: found.entry.sidecar.archive.size, expectedSHA256: found.entry.sidecar.archive.sha256,
                restoreOwnership: false, expectEncrypted: found.entry.sidecar.encryption.scheme == "age"))
        result.files = restored.files
        result.checks.append("stored bytes match the sidecar; \(restored.files) files restored, every SHA-256 checked")
        for component in restored.manifest.components where component.kind == "sqlite" {
            for file in restored.manifest.files where file.component == component.name && file.type == "file" {
                let path = scratch + "/" + file.path
                let verdict = try integrity(of: path)
                guard verdict == "ok" else {
                    throw BackupError(.integrity, "\(file.path): PRAGMA integrity_check says \(verdict)")
                }
                result.checks.append("\(file.path): integrity ok")
            }
        }
        if let defaults = databaseDefaultsFile {
            for component in restored.manifest.components where component.kind == "mariadb" || component.kind == "mysql" {
                try loadDumps(component: component.name, scratch: scratch, job: job.name, defaultsFile: defaults, into: &result)
            }
        }
        result.restoreSeconds = seconds(clock.now - begin)
    }

    /// `PRAGMA integrity_check` of a restored database, opened read-only.
    private static func integrity(of path: String) throws -> String {
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        }
    }

    /// Loads each `<db>.sql.part-*` series of `component` into a scratch database and drops it.
    private static func loadDumps(
        component: String, scratch: String, job: String, defaultsFile: String, into result: inout DrillReport.StoreResult
    ) throws {
        let folder = scratch + "/components/" + component
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let databases = Set(names.compactMap { name -> String? in
            guard let range = name.range(of: ".sql.part-") else { return nil }
            return String(name[..<range.lowerBound])
        })
        for database in databases.sorted() {
            let parts = names.filter { $0.hasPrefix(database + ".sql.part-") }.sorted()
            let dump = folder + "/" + database + ".sql"
            guard FileManager.default.createFile(atPath: dump, contents: nil), let out = FileHandle(forWritingAtPath: dump)
            else { throw BackupError(.sourceUnreadable, "cannot write \(dump)") }
            for part in parts {
                if let data = FileManager.default.contents(atPath: folder + "/" + part) { out.write(data) }
            }
            try out.close()
            let scratchDatabase = "lifeboat_drill_" + String(job.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            func client(_ arguments: [String], input: String? = nil) throws {
                var process = ChildProcess(
                    "mariadb", arguments: ["--defaults-file=" + defaultsFile] + arguments, timeout: .seconds(3600))
                process.standardInput = input
                let run = try process.run()
                guard run.succeeded else {
                    throw BackupError(
                        .integrity,
                        "loading \(database) into the scratch database \(scratchDatabase) failed: "
                            + run.standardErrorText.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
            try client(["-e", "DROP DATABASE IF EXISTS `\(scratchDatabase)`; CREATE DATABASE `\(scratchDatabase)`"])
            defer { try? client(["-e", "DROP DATABASE IF EXISTS `\(scratchDatabase)`"]) }
            try client([scratchDatabase], input: dump)
            result.checks.append("\(component)/\(database): the dump loaded into a scratch database")
        }
    }

    private static func record(_ report: DrillReport, agent: Agent, state: StateDatabase?, at date: Date) {
        guard let state else { return }
        do {
            try state.setSetting(
                settingKey(job: report.job), to: String(decoding: try LifeboatJSON.encode(report), as: UTF8.self), at: date)
            if !report.passed {
                let failed = report.stores.filter { $0.result != "passed" }
                try state.recordEvent(
                    Event(
                        type: AgentEvent.verifyFailed, level: .alert, time: date, source: "agent",
                        attributes: [
                            "job": report.job, "stores": failed.map(\.store).joined(separator: " "), "trigger": "drill",
                            "error": failed.compactMap(\.error).joined(separator: "; "),
                        ],
                        message: "\(report.job): the restore drill failed: "
                            + failed.map { "\($0.store): \($0.error ?? "failed")" }.joined(separator: "; ")),
                    at: date)
            }
        } catch {
            agent.logger.error("The drill's result was not recorded", metadata: ["job": "\(report.job)", "error": "\(error)"])
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
