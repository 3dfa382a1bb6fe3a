import Foundation
import GRDB
import LifeboatCore

/// The hooks of a run (`run_hooks`): what ran before and after the backup, how it ended, and what it
/// printed, bounded. Deleted with their run.
extension StateDatabase {
    /// Appends `outcome` to the hooks of run `id`, after those already recorded.
    public func recordHook(_ outcome: HookOutcome, run id: RunID) throws {
        let command = String(decoding: try LifeboatJSON.encode(outcome.command.arguments), as: UTF8.self)
        try write("record a hook of run \(id)") { db in
            try db.execute(
                sql: """
                    INSERT INTO run_hooks (run_id, seq, phase, command, ok, termination, error, duration_ms, stdout,
                                           stderr, output_truncated)
                    VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_hooks WHERE run_id = ?), ?, ?, ?, ?, ?, ?, ?,
                            ?, ?)
                    """,
                arguments: [
                    id.rawValue, id.rawValue, outcome.phase.rawValue, command, outcome.ok, outcome.termination,
                    outcome.error, outcome.durationMilliseconds, outcome.standardOutput, outcome.standardError,
                    outcome.outputTruncated,
                ])
        }
    }

    /// The hooks run `id` ran, in order.
    public func hooks(run id: RunID) throws -> [HookOutcome] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT phase, command, ok, termination, error, duration_ms, stdout, stderr, output_truncated
                    FROM run_hooks WHERE run_id = ? ORDER BY seq
                    """,
                arguments: [id.rawValue]
            ).map { row in
                let arguments =
                    (try? LifeboatJSON.decode([String].self, from: Array((row[1] as String).utf8))) ?? [row[1]]
                return HookOutcome(
                    phase: HookPhase(rawValue: row[0]), command: HookCommand(arguments: arguments), ok: row[2],
                    termination: row[3], error: row[4], durationMilliseconds: row[5], standardOutput: row[6],
                    standardError: row[7], outputTruncated: row[8])
            }
        }
    }
}
