import Foundation
import LifeboatCore
import Logging

/// What one hook did: how it ended and what it printed (bounded).
public struct HookOutcome: Sendable, Hashable {
    public var phase: HookPhase
    public var command: HookCommand
    /// Exited with status 0 within its timeout.
    public var ok: Bool
    /// `exit status 0`, `signal 15 (SIGTERM)`; nil when the program could not be started.
    public var termination: String?
    /// Why it failed, in words (cannot start, timed out, exit status); nil when it succeeded.
    public var error: String?
    public var durationMilliseconds: Int64
    /// The start of standard output and the end of standard error, at most ``HookRunner/keptOutput``
    /// bytes each.
    public var standardOutput: String
    public var standardError: String
    /// True when some output was left out.
    public var outputTruncated: Bool

    public init(
        phase: HookPhase, command: HookCommand, ok: Bool, termination: String?, error: String?,
        durationMilliseconds: Int64, standardOutput: String, standardError: String, outputTruncated: Bool
    ) {
        self.phase = phase
        self.command = command
        self.ok = ok
        self.termination = termination
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.outputTruncated = outputTruncated
    }

    /// One line for messages: `pre_backup [/usr/sbin/fwconsole stop] failed (exit status 1): …`.
    public var summary: String {
        guard let error else { return "\(phase) [\(command)] succeeded" }
        let said = [standardError, standardOutput].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .first { !$0.isEmpty }
        return "\(phase) [\(command)] failed (\(error))" + (said.map { ": " + String($0.suffix(500)) } ?? "")
    }
}

/// Runs hook commands with `ChildProcess`: no shell, a process group of their own, a timeout, output
/// captured and bounded, every run logged.
public struct HookRunner: Sendable {
    /// How much of each output stream is kept in the run record and messages.
    public static let keptOutput = 16 << 10

    public var logger: Logger
    public var cancellation: CancellationFlag?

    public init(logger: Logger, cancellation: CancellationFlag? = nil) {
        self.logger = logger
        self.cancellation = cancellation
    }

    /// Runs `hooks` in order with `LIFEBOAT_HOOK` and `environment` added to this process's
    /// environment; stops after the first failure when `stopOnFailure`. Never throws: a hook that
    /// cannot start is a failed hook.
    public func run(
        _ hooks: [HookCommand], phase: HookPhase, environment: [String: String], stopOnFailure: Bool,
        record: (HookOutcome) -> Void = { _ in }
    ) -> [HookOutcome] {
        var outcomes: [HookOutcome] = []
        for hook in hooks {
            let outcome = run(hook, phase: phase, environment: environment)
            outcomes.append(outcome)
            record(outcome)
            if !outcome.ok && stopOnFailure { break }
        }
        return outcomes
    }

    /// Runs one hook.
    public func run(_ hook: HookCommand, phase: HookPhase, environment: [String: String]) -> HookOutcome {
        var env = ChildProcess.currentEnvironment()
        for (key, value) in environment { env[key] = value }
        env["LIFEBOAT_HOOK"] = phase.rawValue
        var child = ChildProcess(
            hook.arguments[0], arguments: Array(hook.arguments.dropFirst()), environment: env,
            timeout: .seconds(hook.timeout))
        child.standardOutputLimit = Self.keptOutput
        child.standardErrorLimit = Self.keptOutput
        logger.info("Running hook", metadata: ["hook.phase": "\(phase)", "hook.command": "\(hook)"])
        let started = ContinuousClock.now
        let outcome: HookOutcome
        do {
            let result = try child.run(cancellation: cancellation)
            var error: String?
            if let interruption = result.interruption {
                error = "\(interruption)"
            } else if !result.succeeded {
                error = "\(result.termination)"
            }
            outcome = HookOutcome(
                phase: phase, command: hook, ok: error == nil, termination: "\(result.termination)", error: error,
                durationMilliseconds: Self.milliseconds(result.duration), standardOutput: result.standardOutputText,
                standardError: result.standardErrorText,
                outputTruncated: result.standardOutputTruncated || result.standardErrorTruncated)
        } catch {
            outcome = HookOutcome(
                phase: phase, command: hook, ok: false, termination: nil, error: "\(error)",
                durationMilliseconds: Self.milliseconds(ContinuousClock.now - started), standardOutput: "",
                standardError: "", outputTruncated: false)
        }
        let metadata: Logger.Metadata = [
            "hook.phase": "\(phase)", "hook.command": "\(hook)", "hook.duration_ms": "\(outcome.durationMilliseconds)",
            "hook.termination": "\(outcome.termination ?? "not started")",
        ]
        if outcome.ok {
            logger.info("Hook succeeded", metadata: metadata)
        } else {
            var failed = metadata
            failed["error"] = "\(outcome.error ?? "")"
            failed["hook.stderr"] = "\(outcome.standardError.suffix(2000))"
            logger.warning("Hook failed", metadata: failed)
        }
        return outcome
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
