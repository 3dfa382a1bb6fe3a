import Foundation
import LifeboatCore

/// Restores components of a snapshot onto the PBX in place, for a firmware rollback.
enum InPlaceConfigurationRestore {
    static func restore(agent: Agent, snapshot: String, stores: [String], components: [String], state: StateDatabase)
        throws
    {
        throw CommandError(.failure, "in-place restore is not available in this build")
    }
}
