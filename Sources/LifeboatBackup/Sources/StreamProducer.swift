import LifeboatCore

/// A part of a component that exists only as a stream while the archive is written (a database dump):
/// no file on disk, no size known in advance.
///
/// The backup archives the stream as consecutive fixed-size entries `<archivePath>.part-0001`,
/// `.part-0002`, … (see ``StreamPartWriter``), each with its SHA-256 in the checksum list, so that
/// `cat <archivePath>.part-*` gives the stream back with stock tools.
public protocol StreamProducer: Sendable, CustomStringConvertible {
    /// The archive path the parts are named after, e.g. `components/pbxdb/asterisk.sql`.
    var archivePath: String { get }

    /// Produces the whole stream into `write`, in order, on the calling thread, and returns the
    /// producer's warnings (logged by the backup).
    ///
    /// Throws `BackupError` with the producer's own message when it failed (the backup then commits
    /// nothing), `BackupError.Code.cancelled` when `cancellation` stopped it, or what `write` threw.
    func produce(cancellation: CancellationFlag?, into write: (UnsafeRawBufferPointer) throws -> Void) throws
        -> [String]
}
