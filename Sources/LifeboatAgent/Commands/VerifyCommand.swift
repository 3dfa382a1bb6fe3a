import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatStores

/// `lifeboat verify [SNAP…|--latest] [--deep]`: checks archives on stores. Without `--deep` it needs
/// no key: the stored bytes are compared with the sidecar. With `--deep` the archive is also
/// decrypted and every file hash and SQLite database checked, in the same single read.
public enum VerifyCommand {
    public static func run(
        agent: Agent, snapshots references: [String], latest: Bool, deep: Bool, store: String?, host: String?,
        job: String?, identityFile: String?, json: Bool
    ) throws -> ExitStatus {
        let resolver = SnapshotResolver(agent: agent, store: store, host: host, job: job)
        var targets: [SnapshotResolver.Found] = []
        if latest { targets.append(try resolver.latest()) }
        for reference in references {
            let one = try resolver.resolve(reference)
            // The same snapshot on every selected store.
            targets += try resolver.all().filter { $0.entry.id == one.entry.id }
        }
        if !latest && references.isEmpty { targets = try resolver.all() }
        guard !targets.isEmpty else {
            if json { Console.printJSON([Any]()) } else { Console.out("no snapshots to verify") }
            return .success
        }
        let identities = deep ? try agent.identities(identityFile: identityFile) : []
        if deep && identities.isEmpty {
            throw CommandError(.usage, "verify --deep needs a key: set encryption.identity_file or pass --identity FILE")
        }

        var reports: [[String: Any]] = []
        var failed = 0
        for target in targets {
            let label = "verify \(target.entry.id) on \(target.store.name)"
            let progress = json ? nil : TerminalProgress.ifTerminal(label)
            var report: [String: Any] = [
                "id": target.entry.id.rawValue, "store": target.store.name, "deep": deep,
            ]
            do {
                if deep {
                    let source = try StoreReading.open(target, agent: agent)
                    defer { source.cleanup() }
                    let result = try Verifier.verifyDeep(
                        input: source.source, identities: identities, expectedSize: target.entry.sidecar.archive.size,
                        expectedSHA256: target.entry.sidecar.archive.sha256,
                        scratch: agent.configuration.stateDirectory + "/scratch", store: target.store.name,
                        expectEncrypted: target.entry.sidecar.encryption.scheme == "age", progress: progress)
                    report["files"] = result.files
                    report["sqlite"] = result.sqliteChecks
                    if !json {
                        Console.out(
                            "ok      \(target.entry.id)  \(target.store.name)  archive hash, \(result.files) file hashes, \(result.sqliteChecks.count) SQLite integrity check(s)")
                    }
                } else {
                    _ = try Verifier.verifyCipherText(entry: target.entry, store: target.store, progress: progress)
                    if !json {
                        Console.out("ok      \(target.entry.id)  \(target.store.name)  archive SHA-256 matches its sidecar")
                    }
                }
                report["ok"] = true
            } catch {
                failed += 1
                report["ok"] = false
                report["error"] = "\(error)"
                if !json { Console.out("FAILED  \(target.entry.id)  \(target.store.name)  \(error)") }
            }
            reports.append(report)
        }
        if json { Console.printJSON(reports) }
        return failed == 0 ? .success : .failure
    }
}

/// Opens a snapshot's archive for reading: straight from the store when it can stream, else through a
/// download into the state folder (still encrypted) that is removed afterwards.
struct StoreReading {
    var source: any LifeboatCore.ByteSource
    var cleanup: () -> Void

    static func open(_ found: SnapshotResolver.Found, agent: Agent) throws -> StoreReading {
        if let reader = try found.store.makeReader(for: found.entry.archiveName) {
            return StoreReading(source: reader, cleanup: {})
        }
        let folder = agent.configuration.stateDirectory + "/downloads"
        try LocalFiles.makeDirectories(folder, mode: 0o700)
        let path = folder + "/" + found.entry.id.rawValue + ".download"
        let sink = try FileSink(path: path, mode: 0o600)
        do {
            try found.store.get(found.entry.archiveName, into: sink)
            sink.close()
        } catch {
            sink.close()
            LocalFiles.removeTree(path)
            throw error
        }
        return StoreReading(source: try FileSource(path: path), cleanup: { LocalFiles.removeTree(path) })
    }
}
