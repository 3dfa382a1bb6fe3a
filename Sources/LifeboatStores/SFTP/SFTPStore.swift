import Foundation
import LifeboatCore
import LifeboatSSH

/// A folder on an SFTP server, over SSH with a verified host key.
///
/// Uploads go to `NAME.partial` (mode 0600), whose size is checked with a `stat` after the last
/// write, then renamed into place with `posix-rename@openssh.com` (atomic, replaces an existing
/// object) where the server offers it. A failed or killed upload leaves at most the `.partial`
/// file, which ``removeIncomplete(prefix:)`` deletes and ``list(prefix:)`` never shows.
///
/// The store keeps one SSH session for listings, stats, downloads and deletes, opened on first use
/// and reopened after a connection failure; each upload has a session of its own, so a long upload
/// never holds up the others.
public final class SFTPStore: Store, @unchecked Sendable {
    // @unchecked: the shared session is only touched under `lock` (libssh sessions are not
    // thread-safe); everything else is immutable.
    public static let partialSuffix = ".partial"

    public let name: String
    public let configuration: SFTPStoreConfiguration
    private let lock = NSLock()
    /// The session for everything but uploads; nil until first used and after a connection failure.
    private(set) var shared: SFTPClient?

    public init(name: String, configuration: SFTPStoreConfiguration) {
        self.name = name
        self.configuration = configuration
    }

    public var description: String { "sftp store '\(name)' (\(configuration.displayName))" }

    // MARK: Store

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try ObjectName.validate(objectName)
        let finalPath = remotePath(objectName)
        do {
            let client = try connect()
            try client.makeDirectories(Self.parent(of: finalPath))
            let file = try client.create(finalPath + Self.partialSuffix, permissions: 0o600)
            return SFTPObjectWriter(store: self, objectName: objectName, finalPath: finalPath, file: file)
        } catch let error as SSHError {
            throw storeError(error, "upload of \(objectName)")
        }
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try ObjectName.validate(objectName)
        let counting = CountingSink(sink)
        // A new session may start over only while the sink has received nothing.
        let nothingDelivered = { counting.count == 0 }
        try withClient("download of \(objectName)", retryIf: nothingDelivered) { client in
            _ = try client.download(remotePath(objectName), into: counting)
        }
    }

    public func list(prefix: String) throws -> [StoredObject] {
        try withClient("listing of '\(prefix)'") { client in
            try walk(prefix: prefix, client: client).filter { !$0.name.hasSuffix(Self.partialSuffix) }
        }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try ObjectName.validate(objectName)
        return try withClient("stat of \(objectName)") { client in
            guard let attributes = try client.stat(remotePath(objectName)), attributes.type == .regular else {
                return nil
            }
            return StoredObject(name: objectName, size: attributes.size, modified: attributes.modified)
        }
    }

    public func delete(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        try withClient("delete of \(objectName)") { client in
            do {
                try client.remove(remotePath(objectName))
            } catch let error as SSHError where error.kind == .notFound {
                return
            }
        }
    }

    public func removeIncomplete(prefix: String) throws -> [String] {
        try withClient("removal of interrupted uploads under '\(prefix)'") { client in
            let partials = try walk(prefix: prefix, client: client).map(\.name).filter {
                $0.hasSuffix(Self.partialSuffix)
            }
            for partial in partials {
                do {
                    try client.remove(remotePath(partial))
                } catch let error as SSHError where error.kind == .notFound {
                    continue
                }
            }
            return partials
        }
    }

    // MARK: Paths

    /// The server path of a store path: under the configured folder, or the login's folder.
    func remotePath(_ storePath: String) -> String {
        switch configuration.path {
        case "": return storePath.isEmpty ? "." : storePath
        case "/": return "/" + storePath
        default: return storePath.isEmpty ? configuration.path : configuration.path + "/" + storePath
        }
    }

    /// The folder part of a server path (`""` for a bare name, `/` for a top-level one).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Every regular file under the store's folder whose name starts with `prefix`, in name order;
    /// a missing folder holds nothing.
    private func walk(prefix: String, client: SFTPClient) throws -> [StoredObject] {
        try FolderWalk.objects(prefix: prefix) { folder in
            let entries: [SFTPAttributes]
            do {
                entries = try client.listDirectory(remotePath(folder))
            } catch let error as SSHError where error.kind == .notFound {
                return []
            }
            return entries.compactMap { entry in
                guard let name = entry.name else { return nil }
                let kind: FolderEntry.Kind =
                    switch entry.type {
                    case .regular: .file
                    case .directory: .directory
                    case .symlink, .other: .other
                    }
                return FolderEntry(name: name, kind: kind, size: entry.size, modified: entry.modified)
            }
        }
    }

    // MARK: Sessions and errors

    /// A new SFTP session (SSH connection, host key check, login).
    func connect() throws -> SFTPClient {
        try SFTPClient(configuration: configuration.sessionConfiguration)
    }

    /// Runs `body` with the shared session, opening it first when needed. A connection failure on
    /// a session that had been idle (the server may have closed it) is retried once on a new one
    /// when `retryIf` allows; the session is dropped after any connection failure.
    private func withClient<T>(
        _ what: String, retryIf canRetry: () -> Bool = { true }, _ body: (SFTPClient) throws -> T
    ) throws -> T {
        try lock.withLock {
            var reused = shared != nil
            while true {
                do {
                    let client = try shared ?? connect()
                    shared = client
                    return try body(client)
                } catch let error as SSHError {
                    guard error.kind == .connection else { throw storeError(error, what) }
                    shared = nil
                    guard reused, canRetry() else { throw storeError(error, what) }
                    reused = false
                }
            }
        }
    }

    /// A store error that names the store, the operation and the cause.
    func storeError(_ error: SSHError, _ what: String) -> StoreError {
        let code: StoreError.Code
        switch error.kind {
        case .connection: code = .unavailable
        case .hostKeyUnknown, .hostKeyChanged, .authentication, .permissionDenied: code = .unauthorized
        case .notFound: code = .notFound
        case .writeRefused: code = .storageFull
        default: code = .io
        }
        return StoreError(code, "\(self): \(what) failed: \(error.message)")
    }
}
