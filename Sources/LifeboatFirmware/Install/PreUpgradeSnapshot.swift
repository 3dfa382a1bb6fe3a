/// The backup taken right before an install, as the agent's backup runner reports it: what the
/// configuration is restored from when the install has to be undone.
///
/// Both values are opaque to the installer; it keeps them in the journal and hands them back to
/// `FirmwareInstallEffects.restoreConfiguration(from:)`.
public struct PreUpgradeSnapshot: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The snapshot id.
    public var id: String
    /// The stores the snapshot committed on; never empty for a snapshot the installer accepts.
    public var stores: [String]

    public init(id: String, stores: [String]) {
        self.id = id
        self.stores = stores
    }

    /// `SNAP on local, s3`.
    public var description: String { "\(id) on \(stores.joined(separator: ", "))" }
}
