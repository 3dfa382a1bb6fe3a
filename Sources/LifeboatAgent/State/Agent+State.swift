import Foundation
import Logging

extension Agent {
    /// Opens the state database under `state_dir`, creating it when missing; logs the runs it found
    /// interrupted.
    public func openState() throws -> StateDatabase {
        let state = try StateDatabase(stateDirectory: configuration.stateDirectory)
        for run in state.interruptedAtOpen {
            logger.warning(
                "An earlier run was interrupted",
                metadata: [
                    "job": "\(run.job)", "run": "\(run.id)", "pid": "\(run.process.pid)",
                    "started": "\(run.startedAt)",
                ])
        }
        return state
    }

    /// The state database for a command that records runs but must work without it: a database that
    /// cannot be opened is logged as a warning and the command goes on unrecorded.
    public func openStateForRecording() -> StateDatabase? {
        do {
            return try openState()
        } catch {
            logger.warning("Runs are not recorded: the state database is unusable", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
