/// Where the installer keeps the one firmware install record, so that a crash at any moment leaves
/// a record of the step that was being taken.
///
/// The agent keeps the record as JSON (``FirmwareInstallRecord/encodedJSON()``) in its state
/// database's settings table. The installer saves the record before each step it takes, and calls
/// one method at a time.
public protocol FirmwareInstallJournal: Sendable {
    /// The saved record, or nil when there is none.
    func load() throws -> FirmwareInstallRecord?

    /// Replaces the saved record; the record is durable (on disk, fsynced) when this returns.
    ///
    /// When it throws, the installer stops at once and rethrows the error: whether the record was
    /// saved is unknown, as after a crash, and `FirmwareInstaller.resume()` continues from whatever
    /// `load()` returns.
    func save(_ record: FirmwareInstallRecord) throws

    /// Forgets the record (``FirmwareInstaller/acknowledge()`` calls it for a finished install).
    func clear() throws
}
