import LifeboatCore

/// An object on a store.
public struct StoredObject: Sendable, Hashable {
    /// The full object name, `/`-separated, relative to the store's root.
    public var name: String
    public var size: Int64
    /// Seconds since 1970, when the store knows it.
    public var modified: Int64?
    /// How the store confirmed the upload beyond its size, when it could (e.g. `sha256 via HASH`).
    public var verification: String?

    public init(name: String, size: Int64, modified: Int64? = nil, verification: String? = nil) {
        self.name = name
        self.size = size
        self.modified = modified
        self.verification = verification
    }
}

/// A place that holds archives: a folder, an FTP or SFTP server, a bucket, a document library.
///
/// The contract every backend passes (see the conformance suite in the tests):
/// - an object is visible under its final name only once it is complete and verified
///   (``ObjectWriter/commit()``); a failed or abandoned upload leaves nothing under that name;
/// - `list` returns final objects only, never in-progress uploads;
/// - `removeIncomplete` removes what interrupted uploads left behind.
///
/// Calls block; run them off Swift's cooperative thread pool.
public protocol Store: AnyObject, Sendable, CustomStringConvertible {
    /// The configured name, used in messages and listings.
    var name: String { get }

    /// Starts an upload to `objectName`; nothing is visible until `commit()`.
    func makeWriter(for objectName: String) throws -> any ObjectWriter

    /// Streams an object into `sink`.
    func get(_ objectName: String, into sink: any ByteSink) throws

    /// A pull-style reader of an object, when the backend can offer one cheaply; nil otherwise.
    func makeReader(for objectName: String) throws -> (any ByteSource)?

    /// Final objects whose names start with `prefix`, in name order.
    func list(prefix: String) throws -> [StoredObject]

    /// The object, or nil when it does not exist.
    func stat(_ objectName: String) throws -> StoredObject?

    /// Deletes an object; deleting a missing object is not an error.
    func delete(_ objectName: String) throws

    /// Removes what interrupted uploads under `prefix` left behind; returns what was removed.
    func removeIncomplete(prefix: String) throws -> [String]
}

/// An upload in progress. Write the bytes, then `commit()`; `abort()` on any failure.
public protocol ObjectWriter: ByteSink {
    /// Makes the object visible under its final name once it is complete and verified.
    func commit() throws -> StoredObject

    /// Discards the upload; safe to call more than once and after a failed commit.
    func abort()
}

extension Store {
    public func makeReader(for objectName: String) throws -> (any ByteSource)? { nil }

    /// Uploads a small object from memory.
    @discardableResult
    public func put(_ objectName: String, bytes: [UInt8]) throws -> StoredObject {
        let writer = try makeWriter(for: objectName)
        do {
            try writer.write(bytes)
            return try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Reads a small object into memory, refusing more than `limit` bytes.
    public func getBytes(_ objectName: String, limit: Int = 16 << 20) throws -> [UInt8] {
        let sink = LimitedMemorySink(limit: limit)
        try get(objectName, into: sink)
        return sink.bytes
    }
}

/// Collects bytes in memory up to a limit.
final class LimitedMemorySink: ByteSink {
    private(set) var bytes: [UInt8] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard self.bytes.count + bytes.count <= limit else {
            throw StoreError(.integrity, "object is larger than the \(limit)-byte limit for metadata")
        }
        self.bytes.append(contentsOf: bytes)
    }
}

/// Checks an object name: relative, `/`-separated, no empty, `.` or `..` components, no NUL.
public enum ObjectName {
    public static func validate(_ name: String) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\0"),
            parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else {
            throw StoreError(.invalidName, "invalid object name '\(name)'")
        }
    }
}
