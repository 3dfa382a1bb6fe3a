import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl

/// A folder on an FTP server, over FTPS (explicit or implicit TLS) by default.
///
/// Uploads go to `NAME.partial`, then the server's `SIZE` (and `HASH`/`XSHA256` where the server
/// offers one) are checked against what was sent, then `RNFR`/`RNTO` renames it into place with
/// absolute paths. A failed or killed upload leaves at most the `.partial` file, which
/// ``removeIncomplete(prefix:)`` deletes and ``list(prefix:)`` never shows.
public final class FTPStore: Store, @unchecked Sendable {
    // @unchecked: the control connection and the server facts are used only under `lock`; each
    // upload has a connection of its own.
    public static let partialSuffix = ".partial"

    public let name: String
    public let configuration: FTPStoreConfiguration
    private let lock = NSLock()
    private var control: CurlHandle?
    private var server: ServerFacts?

    /// What the server said about itself on the first connection.
    struct ServerFacts {
        /// The login's folder (`PWD`), the base of every absolute path.
        var home: String
        var mlsd: Bool
        /// `HASH` (draft-bryan-ftpext-hash) with SHA-256, or the older `XSHA256`.
        var hashCommand: HashCommand?

        enum HashCommand { case hash, xsha256 }
    }

    public init(name: String, configuration: FTPStoreConfiguration, allowInsecure: Bool = false) throws {
        if configuration.tls == .none && !allowInsecure {
            throw StoreError(
                .unauthorized,
                "ftp store '\(name)': plain FTP sends the password and the archives in clear text; "
                    + "use tls: explicit or implicit, or set allow_insecure: true")
        }
        self.name = name
        self.configuration = configuration
    }

    public var description: String { "ftp store '\(name)' (\(configuration.displayURL))" }

    // MARK: Store

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try ObjectName.validate(objectName)
        let facts = try serverFacts()
        let handle = try CurlHandle()
        var transfer = baseTransfer(url: url(for: objectName + Self.partialSuffix))
        transfer.ftpCreateMissingDirectories = true
        let upload = CurlStreamingUpload(handle: handle, transfer: transfer)
        do {
            try upload.waitUntilStarted()
        } catch let error as CurlError {
            upload.abort()
            throw storeError(error, "upload of \(objectName)")
        }
        return FTPObjectWriter(store: self, facts: facts, objectName: objectName, handle: handle, upload: upload)
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try ObjectName.validate(objectName)
        _ = try serverFacts()
        var transfer = baseTransfer(url: url(for: objectName))
        transfer.responseSink = sink
        try withControl("download of \(objectName)") { handle in
            do {
                _ = try handle.perform(transfer)
            } catch let error as CurlError where error.kind == .remoteAccess {
                throw StoreError(.notFound, "\(self): \(objectName) does not exist", underlying: error)
            }
        }
    }

    public func list(prefix: String) throws -> [StoredObject] {
        try walk(prefix: prefix).filter { !$0.name.hasSuffix(Self.partialSuffix) }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try ObjectName.validate(objectName)
        let facts = try serverFacts()
        return try withControl("stat of \(objectName)") { handle in
            try size(of: absolutePath(objectName, facts), handle: handle)
        }.map { StoredObject(name: objectName, size: $0) }
    }

    public func delete(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        let facts = try serverFacts()
        try withControl("delete of \(objectName)") { handle in
            try remove(absolutePath(objectName, facts), handle: handle)
        }
    }

    public func removeIncomplete(prefix: String) throws -> [String] {
        let facts = try serverFacts()
        let partials = try walk(prefix: prefix).map(\.name).filter { $0.hasSuffix(Self.partialSuffix) }
        for partial in partials {
            try withControl("removal of \(partial)") { handle in
                try remove(absolutePath(partial, facts), handle: handle)
            }
        }
        return partials
    }

    // MARK: Paths and transfers

    /// A transfer that only sends commands (`quote`), on the login folder.
    func commandTransfer(_ commands: [String]) -> CurlTransfer {
        var transfer = baseTransfer(url: rootURL)
        transfer.noBody = true
        transfer.quote = commands
        return transfer
    }

    private var rootURL: String { configuration.serverURL }

    /// The URL of a store path; curl walks to it relative to the login folder (one `CWD` per part).
    func url(for storePath: String, directory: Bool = false) -> String {
        let full = [configuration.path, storePath].filter { !$0.isEmpty }.joined(separator: "/")
        return rootURL + Self.percentEncode(full) + (directory && !full.isEmpty ? "/" : "")
    }

    /// The absolute server path of a store path, for commands that take paths (`RNFR`, `SIZE`, `DELE`).
    func absolutePath(_ storePath: String, _ facts: ServerFacts) -> String {
        let home = facts.home.hasSuffix("/") ? String(facts.home.dropLast()) : facts.home
        return home + "/" + [configuration.path, storePath].filter { !$0.isEmpty }.joined(separator: "/")
    }

    func baseTransfer(url: String) -> CurlTransfer {
        var transfer = CurlTransfer(url: url)
        transfer.username = configuration.username
        transfer.password = configuration.password
        transfer.caFile = configuration.caFile
        transfer.tlsUpgrade = configuration.tls == .explicit ? .required : .none
        transfer.tls12Only = !configuration.tls13
        transfer.connectTimeout = configuration.connectTimeout
        transfer.lowSpeedTime = configuration.stallTimeout
        return transfer
    }

    static func percentEncode(_ path: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }

    /// Runs `body` with the control connection, turning transfer failures into store errors.
    func withControl<T>(_ what: String, _ body: (CurlHandle) throws -> T) throws -> T {
        try lock.withLock {
            let handle = try control ?? CurlHandle()
            control = handle
            do {
                return try body(handle)
            } catch let error as CurlError {
                throw storeError(error, what)
            }
        }
    }

    /// Logs in once, learns the login folder and the server's features.
    func serverFacts() throws -> ServerFacts {
        if let facts = lock.withLock({ server }) { return facts }
        // A fresh connection: PWD must be its first command to name the login folder.
        let handle = try CurlHandle()
        let transfer = commandTransfer(["PWD", "FEAT"])
        let response: CurlResponse
        do {
            response = try handle.perform(transfer)
        } catch let error as CurlError {
            throw storeError(error, "login")
        }
        guard let home = response.headerLines.lazy.compactMap(FTPListing.parsePWD).first else {
            throw StoreError(.io, "\(self): the server did not say its current folder in reply to PWD")
        }
        let features = Set(
            response.headerLines.filter { $0.hasPrefix(" ") }
                .map { $0.trimmingCharacters(in: .whitespaces).uppercased() })
        let hash: ServerFacts.HashCommand? =
            !configuration.serverHash ? nil
            : features.contains { $0.hasPrefix("HASH") && $0.contains("SHA-256") }
            ? .hash : features.contains { $0.hasPrefix("XSHA256") } ? .xsha256 : nil
        let facts = ServerFacts(home: home, mlsd: features.contains { $0.hasPrefix("MLST") }, hashCommand: hash)
        lock.withLock {
            server = facts
            if control == nil { control = handle }
        }
        return facts
    }

    /// Turns a transfer failure into a store error that names the store, the operation and the cause.
    func storeError(_ error: CurlError, _ what: String) -> StoreError {
        let prefix = "\(self): \(what) failed"
        switch error.kind {
        case .transient:
            return StoreError(.unavailable, "\(prefix): \(error)", underlying: error)
        case .authentication:
            return StoreError(
                .unauthorized, "\(prefix): the server refused the login of '\(configuration.username)' (\(error))",
                underlying: error)
        case .tls:
            return .tls(prefix, error, caFile: configuration.caFile)
        case .remoteAccess:
            return StoreError(.notFound, "\(prefix): \(error)", underlying: error)
        case .refused:
            if error.isRetryable { return StoreError(.unavailable, "\(prefix): \(error)", underlying: error) }
            if error.isStorageFull {
                return StoreError(
                    .storageFull, "\(prefix): the server is out of space or over quota (\(error))", underlying: error)
            }
            return StoreError(.io, "\(prefix): \(error)", underlying: error)
        case .aborted, .other:
            return StoreError(.io, "\(prefix): \(error)", underlying: error)
        }
    }

    // MARK: Commands

    /// `SIZE` of an absolute path, or nil when the server says there is no such file (550).
    func size(of path: String, handle: CurlHandle) throws -> Int64? {
        do {
            let response = try handle.perform(commandTransfer(["TYPE I", "SIZE \(path)"]))
            guard let line = response.headerLines.last(where: { $0.hasPrefix("213 ") }),
                let size = Int64(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
            else {
                throw CurlError(code: -1, kind: .other, message: "the server's SIZE reply is not a number")
            }
            return size
        } catch let error as CurlError where error.responseCode == 550 {
            return nil
        }
    }

    private func remove(_ path: String, handle: CurlHandle) throws {
        do {
            _ = try handle.perform(commandTransfer(["DELE \(path)"]))
        } catch let error as CurlError where error.responseCode == 550 {
            // Missing is fine; anything still there is not.
            if try size(of: path, handle: handle) != nil { throw error }
        }
    }

    private func walk(prefix: String) throws -> [StoredObject] {
        let facts = try serverFacts()
        return try FolderWalk.objects(prefix: prefix) { try listDirectory($0, facts) }
    }

    /// The entries of one folder; a folder that does not exist is empty.
    private func listDirectory(_ dir: String, _ facts: ServerFacts) throws -> [FolderEntry] {
        var transfer = baseTransfer(url: url(for: dir, directory: true))
        if facts.mlsd { transfer.method = "MLSD" }
        transfer.responseLimit = 64 << 20
        return try withControl("listing of \(dir.isEmpty ? "/" : dir)") { handle in
            do {
                let text = String(decoding: try handle.perform(transfer).body, as: UTF8.self)
                return facts.mlsd ? FTPListing.parseMLSD(text) : FTPListing.parseLIST(text)
            } catch let error as CurlError where error.kind == .remoteAccess {
                return []
            }
        }
    }
}
