import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// `lifeboat restore SNAP --in-place`: the snapshot over the live PBX, with its hooks, the firmware
/// gate, and an event in the event log.
///
/// The order: read and check the whole archive into staging while the PBX runs (the firmware gate is
/// applied as soon as the manifest is read); take the snapshot's job lock (no backup of that job
/// meanwhile); `pre_restore` (the job's, then each component's source's, each command once); replace
/// each component; `post_restore` (the sources' in reverse order, then the job's) whatever happened,
/// with `LIFEBOAT_RESULT`; remove the replaced data; `restore.done`. A failing `pre_restore` or
/// component puts back everything already replaced, still runs `post_restore` so that the PBX comes
/// back, and raises `restore.failed` (alert).
struct InPlaceRestorer {
    /// The archive to restore and what its sidecar promises.
    struct Input {
        var source: any ByteSource
        var expectedSize: Int64?
        var expectedSHA256: String?
        var expectEncrypted: Bool?
        /// `ID from STORE`, or the file's path.
        var label: String
    }

    var agent: Agent
    var components: [String]
    var force: Bool
    var json: Bool
    /// Print nothing (a firmware rollback): what would be printed goes to the log.
    var quiet = false

    func run(_ input: Input, identities: [AgeIdentity]) throws -> ExitStatus {
        let started = Date()
        let running = agent.firmwareVersion()
        let state = agent.openStateForRecording()
        var forcedPast: String?
        let request = InPlaceRestoreRequest(
            input: input.source, identities: identities, components: components, expectedSize: input.expectedSize,
            expectedSHA256: input.expectedSHA256, expectEncrypted: input.expectEncrypted,
            restoreOwnership: geteuid() == 0, workDirectory: agent.configuration.stateDirectory + "/restore",
            sources: agent.configuration.sources,
            checkManifest: { [force] manifest in
                guard let refusal = FirmwareGate.refusal(snapshot: manifest.pbx.firmwareVersion, running: running)
                else {
                    return
                }
                guard force else {
                    throw CommandError(
                        .failure,
                        "refused to restore snapshot \(manifest.snapshot) in place: \(refusal). Nothing was changed; pass --force to restore it anyway"
                    )
                }
                forcedPast = refusal
            })
        let restore = try InPlaceRestore.stage(
            request, progress: json || quiet ? nil : TerminalProgress.ifTerminal("restore \(input.label)"))
        let manifest = restore.manifest
        let lock: JobLock
        do {
            lock = try JobLock(stateDirectory: agent.configuration.stateDirectory, job: manifest.job)
        } catch {
            restore.discard()
            throw error
        }
        defer { withExtendedLifetime(lock) {} }

        let names = restore.plan.map(\.component)
        if let forcedPast { say("warning: --force: \(forcedPast)") }
        say(
            "staged snapshot \(manifest.snapshot) (\(manifest.created), host \(manifest.host), job \(manifest.job), firmware \(manifest.pbx.firmwareVersion ?? "unknown")): \(restore.files) file(s), \(ByteCount.format(restore.bytes)); every file hash checked"
        )
        for item in restore.plan {
            say("  \(item.component) (\(item.kind)) -> \(item.destinations.joined(separator: ", "))")
        }
        for path in restore.changedFiles {
            say("  warning: \(path) was changing while it was backed up; its copy may be torn")
        }

        let job = agent.configuration.job(named: manifest.job)
        let sourceHooks = agent.configuration.sourceRestoreHooks
        let pre = Self.once((job?.restoreHooks.pre ?? []) + names.flatMap { sourceHooks[$0]?.pre ?? [] })
        let post = Self.once(names.reversed().flatMap { sourceHooks[$0]?.post ?? [] } + (job?.restoreHooks.post ?? []))
        let environment = [
            "LIFEBOAT_SNAPSHOT": manifest.snapshot.rawValue, "LIFEBOAT_JOB": manifest.job,
            "LIFEBOAT_HOST": manifest.host,
            "LIFEBOAT_COMPONENTS": names.joined(separator: " "),
        ]
        let hooks = HookRunner(logger: agent.logger)
        var outcomes: [HookOutcome] = []
        func runPost(_ result: String) -> HookOutcome? {
            var env = environment
            env["LIFEBOAT_RESULT"] = result
            let ran = hooks.run(post, phase: .postRestore, environment: env, stopOnFailure: false) {
                say(Self.line($0))
            }
            outcomes += ran
            return ran.first { !$0.ok }
        }
        var attributes = environment.reduce(into: [String: String]()) {
            $0[$1.key.dropFirst(9).lowercased()] = $1.value
        }
        attributes["from"] = input.label
        attributes["mode"] = "in-place"

        // pre_restore: the first failure stops the restore before anything changed.
        outcomes += hooks.run(pre, phase: .preRestore, environment: environment, stopOnFailure: true) {
            say(Self.line($0))
        }
        if let failed = outcomes.first(where: { !$0.ok }) {
            restore.discard()
            _ = runPost("failed")
            let message = "\(failed.summary). Nothing was changed"
            raise(
                AgentEvent.restoreFailed, .alert, attributes, error: message, hooks: outcomes, state: state,
                started: started)
            throw CommandError(.failure, "in-place restore of snapshot \(manifest.snapshot) stopped: \(message)")
        }

        do {
            try restore.apply { component, what in say("  \(component): \(what)") }
        } catch {
            restore.discard()
            let postFailure = runPost("failed")
            var message = "\(error)"
            if let postFailure { message += ". Also \(postFailure.summary)" }
            raise(
                AgentEvent.restoreFailed, .alert, attributes, error: message, hooks: outcomes, state: state,
                started: started)
            throw CommandError(
                .failure, "in-place restore of snapshot \(manifest.snapshot) failed and was undone: \(message)")
        }

        let postFailure = runPost("succeeded")
        let leftovers = restore.commit()
        for problem in leftovers { say("  warning: \(problem)") }
        var level = EventLevel.information
        var problem: String?
        if let postFailure {
            level = .alert
            problem = "the snapshot is restored, but \(postFailure.summary)"
        } else if !leftovers.isEmpty {
            level = .warning
            problem = "the snapshot is restored; left behind: " + leftovers.joined(separator: "; ")
        }
        raise(
            AgentEvent.restoreDone, level, attributes, error: problem, hooks: outcomes, state: state, started: started)
        if quiet {
            say("restored snapshot \(manifest.snapshot) in place (\(names.joined(separator: ", ")))" + (problem.map { "; \($0)" } ?? ""))
        } else if json {
            Console.printJSON([
                "snapshot": manifest.snapshot.rawValue, "mode": "in-place", "files": restore.files,
                "bytes": restore.bytes,
                "components": restore.plan.map {
                    ["name": $0.component, "kind": $0.kind, "destinations": $0.destinations]
                },
                "hooks": outcomes.map { ["phase": $0.phase.rawValue, "command": $0.command.arguments, "ok": $0.ok] },
                "forced": forcedPast as Any? ?? NSNull(), "error": problem as Any? ?? NSNull(),
            ])
        } else {
            say(
                "restored snapshot \(manifest.snapshot) in place (\(names.joined(separator: ", "))) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
                    + (problem.map { "; \($0)" } ?? ""))
        }
        return postFailure == nil ? .success : .failure
    }

    /// Each command once, in first-seen order (a PBX stop listed on several sources stops it once).
    static func once(_ hooks: [HookCommand]) -> [HookCommand] {
        var seen = Set<[String]>()
        return hooks.filter { seen.insert($0.arguments).inserted }
    }

    static func line(_ outcome: HookOutcome) -> String {
        let seconds = String(format: "%.1f", Double(outcome.durationMilliseconds) / 1000)
        return outcome.ok ? "  \(outcome.phase) [\(outcome.command)]: ok (\(seconds) s)" : "  \(outcome.summary)"
    }

    private func say(_ line: String) {
        if quiet {
            agent.logger.info("\(line)")
        } else if json {
            StandardError.write(line + "\n")
        } else {
            Console.out(line)
        }
    }

    /// Records a restore event (best effort, like a backup run's).
    private func raise(
        _ type: String, _ level: EventLevel, _ attributes: [String: String], error: String?, hooks: [HookOutcome],
        state: StateDatabase?, started: Date
    ) {
        var attributes = attributes
        attributes["result"] = type == AgentEvent.restoreDone ? "succeeded" : "failed"
        attributes["duration_seconds"] = String(format: "%.1f", Date().timeIntervalSince(started))
        if let error { attributes["error"] = error }
        if !hooks.isEmpty {
            attributes["hooks"] = hooks.map { "\($0.phase) [\($0.command)]: \($0.ok ? "ok" : $0.error ?? "failed")" }
                .joined(separator: "; ")
        }
        let snapshot = attributes["snapshot"] ?? ""
        let message =
            type == AgentEvent.restoreDone
            ? "snapshot \(snapshot) restored in place" + (error.map { ": \($0)" } ?? "")
            : "in-place restore of snapshot \(snapshot) failed: \(error ?? "")"
        let event = Event(
            type: type, level: level, time: Date(), source: "agent", attributes: attributes, message: message)
        guard let state else { return }
        do {
            try state.recordEvent(event)
        } catch {
            agent.logger.warning("Event not recorded", metadata: ["event.type": "\(type)", "error": "\(error)"])
        }
    }
}
