import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl
import Logging

/// A folder in a SharePoint Online document library, through Microsoft Graph, logged in app-only.
///
/// The app logs in with the client-credentials grant (a client secret, or a certificate and an RS256
/// client assertion); the token is shared by all requests, renewed before it runs out, and once more
/// after a 401. The site (`host:/sites/name`) is resolved to its ID and the library (the default one,
/// or `drive_id` / `drive_name`) to a drive ID once; folders are created as uploads need them.
///
/// An object of at most 4 MiB goes up in one PUT; a larger one is spooled to a private file (Graph
/// wants the total size in every fragment, known before the first) and goes up at commit through an
/// upload session: fragments of `chunk_size` in order, each retried alone, to the pre-authenticated
/// upload URL (never with the bearer token); after a failure the writer asks the session where to
/// resume, and when the session has expired it starts over with a new one. Graph makes the file
/// visible only when its last byte arrives. Either way the driveItem Graph answers is checked: its
/// size and its `quickXorHash` against the QuickXorHash computed here; a file that differs is
/// deleted and the upload fails. Uploads replace a file of the same name
/// (`@microsoft.graph.conflictBehavior: replace`), as the Store contract wants; archive names end
/// in `.age`, which SharePoint never rewrites (it adds metadata to Office documents).
///
/// Whole operations (opening an upload, list, get, stat, delete) are retried by ``RetryingStore``
/// around this store; the requests of an upload are retried here.
public final class SharePointStore: Store, @unchecked Sendable {
    // @unchecked: fields are immutable or thread-safe (HTTPClient, AccessTokenCache); `driveID` and
    // `existingFolders` are only touched under `lock`.
    public let name: String
    public let configuration: SharePointStoreConfiguration
    let http: HTTPClient
    let retrier: Retrier
    let logger: Logger?
    let tokens: AccessTokenCache
    let certificate: CertificateCredential?
    /// The wall clock for the client assertion's `nbf`/`exp`.
    let now: @Sendable () -> Date
    /// This store's folder of upload spool files.
    let spoolDirectory: String
    private let lock = NSLock()
    private var driveID: String?
    /// Folders (paths from the library's root) known to exist.
    private var existingFolders: Set<String> = []

    /// `tokenRefreshMargin`: renew the access token when less than this many seconds are left (or
    /// half its lifetime, when that is less).
    public init(
        name: String, configuration: SharePointStoreConfiguration, logger: Logger? = nil,
        tokenRefreshMargin: Double = 300, now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        if let problem = configuration.problem {
            throw StoreError(.io, "sharepoint store '\(name)': \(problem)")
        }
        if case .certificate(let certificateFile, let keyFile) = configuration.credential {
            do {
                certificate = try CertificateCredential.load(certificateFile: certificateFile, keyFile: keyFile)
            } catch let error as StoreError {
                throw StoreError(error.code, "sharepoint store '\(name)': \(error.message)")
            }
        } else {
            certificate = nil
        }
        self.name = name
        self.configuration = configuration
        self.logger = logger
        self.now = now
        http = HTTPClient(
            owner: "sharepoint store '\(name)' (\(configuration.displayName))", caFile: configuration.caFile,
            connectTimeout: configuration.connectTimeout, stallTimeout: configuration.stallTimeout)
        retrier = Retrier(policy: configuration.retryPolicy, logger: logger)
        let safeName = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        spoolDirectory = configuration.spoolDirectory + "/sharepoint-" + safeName
        tokens = AccessTokenCache(refreshMargin: tokenRefreshMargin, ownerName: "sharepoint store '\(name)'")
        tokens.attach(self)
    }

    public var description: String { http.owner }

    // MARK: Store

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try validate(objectName)
        let drive = try drive()
        let path = itemPath(objectName)
        if let slash = path.lastIndex(of: "/") { try ensureFolder(String(path[..<slash]), drive: drive) }
        return SharePointObjectWriter(store: self, objectName: objectName, drive: drive, path: path)
    }

    /// Downloads through `…/content`: Graph answers with a redirect to a pre-authenticated URL, which
    /// is fetched without the access token.
    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try validate(objectName)
        let what = "download of \(objectName)"
        let drive = try drive()
        var request = HTTPRequest("GET", actionURL(drive, itemPath(objectName), "content"))
        request.sink = sink
        let response = try sendAuthorized(request, what: what)
        switch response.status {
        case 200:
            return  // streamed into the sink already
        case 301, 302, 303, 307, 308:
            guard let location = response.header("Location"),
                let url = URL(string: location, relativeTo: configuration.graphURL)?.absoluteString
            else {
                throw StoreError(.io, "\(self): \(what) failed: Graph redirected without a Location")
            }
            var download = HTTPRequest("GET", url)
            download.sink = sink
            let answer = try http.send(download, what: what)
            switch answer.status {
            case 200:
                return
            case 404:
                throw StoreError(.notFound, "\(self): \(objectName) does not exist")
            case 401, 403:
                // The URL's own credential lapsed (it lives about an hour): a new one is one request away.
                throw StoreError(
                    .unavailable,
                    "\(self): \(what) failed: the pre-authenticated download URL was refused (\(graphError(answer)))")
            default:
                throw failure(answer, what + " from the pre-authenticated download URL")
            }
        case 404:
            throw StoreError(.notFound, "\(self): \(objectName) does not exist")
        default:
            throw failure(response, what)
        }
    }

    public func list(prefix: String) throws -> [StoredObject] {
        let drive = try drive()
        return try FolderWalk.objects(prefix: prefix) { folder in
            try children(of: folder.isEmpty ? configuration.folder : itemPath(folder), drive: drive)
        }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try validate(objectName)
        guard let item = try item(at: itemPath(objectName), drive: drive(), what: "stat of \(objectName)"),
            item.isFile
        else { return nil }
        return StoredObject(name: objectName, size: item.size, modified: item.modified)
    }

    /// Deletes the file (SharePoint keeps it in the site's recycle bin for 93 days).
    public func delete(_ objectName: String) throws {
        try validate(objectName)
        let what = "delete of \(objectName)"
        let response = try sendAuthorized(HTTPRequest("DELETE", itemURL(drive(), itemPath(objectName))), what: what)
        guard (200..<300).contains(response.status) || response.status == 404 else { throw failure(response, what) }
    }

    /// Removes what uploads of this machine left behind when their process died: spool files, and
    /// the upload sessions they had opened (an unfinished session is invisible in the library, and
    /// Graph drops it when it expires; cancelling it frees its temporary storage now). Sessions
    /// opened elsewhere cannot be found: Graph has no call that lists them.
    public func removeIncomplete(prefix: String) throws -> [String] {
        var removed: [String] = []
        for leftover in UploadSpool.leftovers(in: spoolDirectory) where leftover.objectName.hasPrefix(prefix) {
            if let uploadURL = leftover.uploadURL { cancelSession(uploadURL, objectName: leftover.objectName) }
            unlink(leftover.dataPath)
            unlink(leftover.recordPath)
            removed.append(leftover.objectName)
        }
        return removed.sorted()
    }

    // MARK: Names and URLs

    private func validate(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        for component in objectName.split(separator: "/") {
            if let problem = SharePointNames.problem(String(component)) {
                throw StoreError(.invalidName, "\(self): invalid object name: \(problem)")
            }
        }
    }

    /// The path of an object from the library's root.
    func itemPath(_ objectName: String) -> String {
        configuration.folder.isEmpty ? objectName : configuration.folder + "/" + objectName
    }

    var graph: String { SharePointStoreConfiguration.base(configuration.graphURL) }

    func driveURL(_ drive: String) -> String { graph + "/drives/" + Self.idSegment(drive) }

    /// A site or drive ID as a path segment: percent-encoded, but for the `!` of drive IDs and the
    /// commas of site IDs, which Graph writes as they are.
    static func idSegment(_ id: String) -> String {
        URIEncoding.encode(id).replacingOccurrences(of: "%21", with: "!").replacingOccurrences(of: "%2C", with: ",")
    }

    /// The item at `path` (from the library's root; empty for the root).
    func itemURL(_ drive: String, _ path: String) -> String {
        path.isEmpty
            ? driveURL(drive) + "/root" : driveURL(drive) + "/root:/" + URIEncoding.encode(path, keepSlash: true)
    }

    /// An action on the item at `path`: `…/root:/a/b:/content`, or `…/root/children` for the root.
    func actionURL(_ drive: String, _ path: String, _ action: String) -> String {
        itemURL(drive, path) + (path.isEmpty ? "/" : ":/") + action
    }

    // MARK: Site, library and folders

    /// The drive ID of the library, looked up once.
    func drive() throws -> String {
        if let driveID = lock.withLock({ driveID }) { return driveID }
        let resolved = try resolveDrive()
        lock.withLock { driveID = resolved }
        return resolved
    }

    private func resolveDrive() throws -> String {
        let (hostname, path) = configuration.siteParts!
        let siteWhat = "lookup of site \(configuration.site)"
        let siteResponse = try sendAuthorized(
            HTTPRequest(
                "GET",
                graph + "/sites/" + URIEncoding.encode(hostname) + ":" + URIEncoding.encode(path, keepSlash: true)
                    + "?$select=id"),
            what: siteWhat)
        if siteResponse.status == 404 {
            throw StoreError(
                .notFound,
                "\(self): the site \(configuration.site) does not exist (\(graphError(siteResponse))); check site: "
                    + "the host name and the path of the site's address, e.g. contoso.sharepoint.com:/sites/it")
        }
        guard siteResponse.status == 200 else { throw failure(siteResponse, siteWhat) }
        guard let siteID = GraphJSON.id(siteResponse.body) else {
            throw StoreError(.io, "\(self): \(siteWhat) failed: the answer has no site id")
        }
        let siteURL = graph + "/sites/" + Self.idSegment(siteID)
        if let wanted = configuration.driveID {
            let what = "lookup of library \(wanted)"
            let response = try sendAuthorized(
                HTTPRequest("GET", siteURL + "/drives/" + Self.idSegment(wanted) + "?$select=id,name"), what: what)
            if response.status == 404 || response.status == 400 {
                throw StoreError(
                    .notFound,
                    "\(self): the site has no document library with drive_id \(wanted) (\(graphError(response)))")
            }
            guard response.status == 200, let id = GraphJSON.id(response.body) else { throw failure(response, what) }
            return id
        }
        if let wanted = configuration.driveName {
            let what = "listing of the libraries of \(configuration.site)"
            let response = try sendAuthorized(HTTPRequest("GET", siteURL + "/drives?$select=id,name"), what: what)
            guard response.status == 200, let drives = GraphJSON.drives(response.body) else {
                throw failure(response, what)
            }
            guard let drive = drives.first(where: { $0.name.lowercased() == wanted.lowercased() }) else {
                throw StoreError(
                    .notFound,
                    "\(self): the site has no document library named '\(wanted)' (it has: "
                        + drives.map(\.name).joined(separator: ", ") + "); check drive_name")
            }
            return drive.id
        }
        let what = "lookup of the default library of \(configuration.site)"
        let response = try sendAuthorized(HTTPRequest("GET", siteURL + "/drive?$select=id"), what: what)
        if response.status == 404 {
            throw StoreError(.notFound, "\(self): the site has no default document library (\(graphError(response)))")
        }
        guard response.status == 200, let id = GraphJSON.id(response.body) else { throw failure(response, what) }
        return id
    }

    /// Makes sure the folder at `path` (from the library's root) exists, creating it and its parents.
    func ensureFolder(_ path: String, drive: String) throws {
        if path.isEmpty || lock.withLock({ existingFolders.contains(path) }) { return }
        let what = "creation of folder \(path)"
        let existing = try item(at: path, drive: drive, what: "check of folder \(path)")
        if let existing {
            guard existing.isFolder else {
                throw StoreError(.conflict, "\(self): \(path) in the library is a file, where a folder is needed")
            }
        } else {
            let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
            try ensureFolder(parent, drive: drive)
            let folderName = String(path.split(separator: "/").last!)
            var request = HTTPRequest(
                "POST", actionURL(drive, parent, "children"), headers: [("Content-Type", "application/json")])
            request.body = .bytes(
                try JSONSerialization.data(
                    withJSONObject: [
                        "name": folderName, "folder": [:] as [String: String],
                        "@microsoft.graph.conflictBehavior": "fail",
                    ] as [String: Any]
                ).map { $0 })
            let response = try retrier.run(what, store: name) {
                let response = try sendAuthorized(request, what: what)
                guard response.status == 201 || response.status == 200 || response.status == 409 else {
                    throw failure(response, what)
                }
                return response
            }
            if response.status == 409 {
                // Created meanwhile (by another upload, or by an earlier try whose answer was lost).
                guard try item(at: path, drive: drive, what: "check of folder \(path)")?.isFolder == true else {
                    throw StoreError(.conflict, "\(self): \(path) in the library is a file, where a folder is needed")
                }
            } else {
                logger?.info("Folder created", metadata: ["store": "\(name)", "folder": "\(path)"])
            }
        }
        _ = lock.withLock { existingFolders.insert(path) }
    }

    /// The driveItem at `path`, or nil when there is none.
    func item(at path: String, drive: String, what: String) throws -> GraphJSON.DriveItem? {
        let request = HTTPRequest(
            "GET", itemURL(drive, path) + "?$select=id,name,size,file,folder,lastModifiedDateTime")
        let response = try retrier.run(what, store: name) {
            let response = try sendAuthorized(request, what: what)
            guard response.status == 200 || response.status == 404 else { throw failure(response, what) }
            return response
        }
        if response.status == 404 { return nil }
        guard let item = GraphJSON.driveItem(response.body) else {
            throw StoreError(.io, "\(self): \(what) failed: the answer is not a driveItem")
        }
        return item
    }

    /// The files and folders in the folder at `path` (from the library's root); none when it does not exist.
    private func children(of path: String, drive: String) throws -> [FolderEntry] {
        let what = "listing of \(path.isEmpty ? "the library" : path)"
        var entries: [FolderEntry] = []
        var next: String? =
            actionURL(drive, path, "children") + "?$select=id,name,size,file,folder,lastModifiedDateTime"
        var seen: Set<String> = []
        while let url = next {
            // The access token goes only to Graph itself.
            guard url.hasPrefix(graph + "/") else {
                throw StoreError(.io, "\(self): \(what) failed: Graph sent a next page on another host (\(url))")
            }
            guard seen.insert(url).inserted else {
                throw StoreError(.io, "\(self): \(what) failed: Graph sent the same next page twice")
            }
            var request = HTTPRequest("GET", url)
            request.responseLimit = 32 << 20
            let response = try sendAuthorized(request, what: what)
            if response.status == 404 && entries.isEmpty { return [] }
            guard response.status == 200 else { throw failure(response, what) }
            guard let page = GraphJSON.page(response.body) else {
                throw StoreError(
                    .io,
                    "\(self): \(what) failed: the answer is not a list of items: \(HTTPFailure.excerpt(response.body))")
            }
            for item in page.items {
                let kind: FolderEntry.Kind = item.isFolder ? .directory : item.isFile ? .file : .other
                entries.append(FolderEntry(name: item.name, kind: kind, size: item.size, modified: item.modified))
            }
            next = page.nextLink
        }
        return entries
    }

    /// Deletes the item with `id` (an upload that failed its check).
    func deleteItem(id: String, drive: String, what: String) throws {
        let response = try sendAuthorized(
            HTTPRequest("DELETE", driveURL(drive) + "/items/" + URIEncoding.encode(id)), what: what)
        guard (200..<300).contains(response.status) || response.status == 404 else { throw failure(response, what) }
    }

    /// Cancels an upload session (its URL is pre-authenticated: no access token); failures are logged.
    func cancelSession(_ uploadURL: String, objectName: String) {
        let what = "cancellation of the upload session of \(objectName)"
        do {
            let response = try http.send(HTTPRequest("DELETE", uploadURL), what: what)
            guard (200..<300).contains(response.status) || response.status == 404 else {
                throw failure(response, what)
            }
        } catch {
            logger?.warning(
                "Could not cancel an upload session; Graph drops it when it expires",
                metadata: ["store": "\(name)", "object": "\(objectName)", "error": "\(error)"])
        }
    }

    // MARK: Requests

    /// Sends `request` with the access token (a 401 gets one more try with a new token).
    func sendAuthorized(_ request: HTTPRequest, what: String) throws -> CurlResponse {
        try http.send(request, what: what, authorizedBy: tokens, store: name, logger: logger)
    }

    // MARK: Errors

    /// `itemNotFound: The resource could not be found.`, or the status when the body says nothing.
    func graphError(_ response: CurlResponse) -> String {
        let parsed = GraphJSON.error(response.body)
        var text = "HTTP \(response.status)"
        if let code = parsed?.code { text += " \(code)" }
        if let message = parsed?.message, !message.isEmpty {
            text += ": \(message)"
        } else if parsed == nil, !response.body.isEmpty {
            text += ": \(HTTPFailure.excerpt(response.body))"
        }
        return text
    }

    /// The error for a non-success answer: the store, the operation, Graph's code and message, and
    /// what to do.
    func failure(_ response: CurlResponse, _ what: String) -> StoreError {
        let graphCode = GraphJSON.error(response.body)?.code
        var code = HTTPFailure.code(for: response.status)
        var hint = ""
        switch response.status {
        case 401:
            hint = "; Graph refused a fresh access token of app \(configuration.clientID)"
        case 403:
            hint =
                "; app \(configuration.clientID) lacks permission on \(configuration.site): grant it the "
                + "Sites.ReadWrite.All application permission (with admin consent), or Sites.Selected with write "
                + "access to this site"
        case 423:
            code = .unavailable  // locked (checked out, or in use): may pass
        case 507:
            hint = "; the site's storage quota is used up"
        default:
            break
        }
        if graphCode == "quotaLimitReached" || graphCode == "insufficientStorage" { code = .storageFull }
        return StoreError(
            code, "\(self): \(what) failed: \(graphError(response))\(hint)",
            retryAfter: code == .unavailable ? HTTPFailure.retryAfter(response) : nil)
    }
}

/// Lets the token cache's fetch closure reach its store without keeping it alive.
