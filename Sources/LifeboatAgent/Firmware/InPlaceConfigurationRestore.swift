import Foundation
import LifeboatCore

/// Restores components of the pre-upgrade snapshot onto the PBX in place, for a firmware rollback:
/// the same in-place restore as `lifeboat restore SNAP --in-place --component …` (staged and checked
/// first, each component swapped atomically, everything put back on failure, the restore hooks
/// around it). The firmware gate is passed over: the snapshot was made on the firmware the rollback
/// returns to.
enum InPlaceConfigurationRestore {
    static func restore(agent: Agent, snapshot: String, stores: [String], components: [String], state: StateDatabase)
        throws
    {
        var lastError: (any Error)?
        for store in stores {
            do {
                let found = try SnapshotResolver(agent: agent, store: store, host: nil, job: nil).resolve(snapshot)
                let opened = try StoreReading.open(found, agent: agent)
                defer { opened.cleanup() }
                let input = InPlaceRestorer.Input(
                    source: opened.source, expectedSize: found.entry.sidecar.archive.size,
                    expectedSHA256: found.entry.sidecar.archive.sha256,
                    expectEncrypted: found.entry.sidecar.encryption.scheme == "age",
                    label: "\(snapshot) from \(store)")
                var restorer = InPlaceRestorer(agent: agent, components: components, force: true, json: false)
                restorer.quiet = true
                let status = try restorer.run(input, identities: try agent.identities(identityFile: nil))
                guard status == .success else {
                    throw CommandError(.failure, "the in-place restore of \(snapshot) from \(store) did not succeed")
                }
                return
            } catch {
                agent.logger.warning(
                    "Restoring the pre-upgrade snapshot failed on a store",
                    metadata: ["store": "\(store)", "snapshot": "\(snapshot)", "error": "\(error)"])
                lastError = error
            }
        }
        throw lastError ?? CommandError(.failure, "the pre-upgrade snapshot \(snapshot) is on no store")
    }
}
