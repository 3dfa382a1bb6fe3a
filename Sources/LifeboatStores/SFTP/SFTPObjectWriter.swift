import LifeboatCore
import LifeboatSSH

/// Writes `NAME.partial` over its own SFTP session; on commit closes it, checks its size with a
/// `stat` and renames it into place.
final class SFTPObjectWriter: ObjectWriter {
    let store: SFTPStore
    let objectName: String
    let finalPath: String
    let partialPath: String
    /// The open `.partial` file; its client is this upload's own session, closed by releasing it
    /// once the upload is committed or aborted.
    private var file: SFTPFile?

    init(store: SFTPStore, objectName: String, finalPath: String, file: SFTPFile) {
        self.store = store
        self.objectName = objectName
        self.finalPath = finalPath
        self.partialPath = file.path
        self.file = file
    }

    /// The upload's SSH session while it is open.
    var session: SSHSession? { file?.client.session }

    private var what: String { "upload of \(objectName)" }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { preconditionFailure("write after commit or abort") }
        do {
            try file.write(bytes)
        } catch let error as SSHError {
            throw store.storeError(error, what)
        }
    }

    func commit() throws -> StoredObject {
        guard let file else { preconditionFailure("commit after commit or abort") }
        let written = file.bytesWritten
        let client = file.client
        do {
            try file.close()
            guard let attributes = try client.stat(partialPath) else {
                throw StoreError(
                    .integrity, "\(store): \(what) failed: \(partialPath) vanished before it was renamed into place")
            }
            guard attributes.size == written else {
                throw StoreError(
                    .integrity,
                    "\(store): \(what) failed: \(partialPath) holds \(attributes.size) bytes after \(written) were sent; "
                        + "not committed")
            }
            try client.rename(partialPath, to: finalPath)
            self.file = nil
            return StoredObject(
                name: objectName, size: written, modified: attributes.modified, verification: "size via stat")
        } catch let error as SSHError {
            throw store.storeError(error, what)
        }
    }

    /// Closes and deletes the `.partial` file. When the connection is gone the file stays behind
    /// for ``SFTPStore/removeIncomplete(prefix:)``: aborting never waits for a new connection.
    func abort() {
        guard let file else { return }
        self.file = nil
        try? file.close()
        if file.client.session.isConnected { try? file.client.remove(partialPath) }
    }

    deinit { abort() }
}
