import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl
import Logging

/// A bucket on Google Cloud Storage, through the JSON API, logged in as a service account.
///
/// The store signs an RS256 JWT with the service account's key and trades it for an OAuth 2.0 access
/// token at the account's token URI; the token is shared by all transfers and renewed before it
/// runs out (and at once after a 401). Uploads are resumable sessions sent in chunks of
/// `chunk_size`: a chunk that fails is resumed from the offset GCS reports, never from the start.
/// GCS makes the object visible only when the last chunk arrives; the writer then compares its
/// size, CRC-32C and MD5 with what was sent (and deletes it when they differ).
///
/// Whole operations (opening an upload, list, get, stat, delete) are retried by ``RetryingStore``
/// around this store; the chunks of an upload are retried here, each from GCS's offset.
public final class GCSStore: Store, @unchecked Sendable {
    // @unchecked: every field is immutable or thread-safe (HTTPClient, AccessTokenCache, RSASigningKey).
    public let name: String
    public let configuration: GCSStoreConfiguration
    let http: HTTPClient
    let retrier: Retrier
    let logger: Logger?
    let tokens: AccessTokenCache
    let signingKey: RSASigningKey
    /// The wall clock for the JWT's `iat`/`exp`.
    let now: @Sendable () -> Date

    /// `tokenRefreshMargin`: renew the access token when less than this many seconds are left (or half
    /// its lifetime, when that is less).
    public init(
        name: String, configuration: GCSStoreConfiguration, logger: Logger? = nil, tokenRefreshMargin: Double = 300,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        if let problem = configuration.problem {
            throw StoreError(.io, "gcs store '\(name)': \(problem)")
        }
        do {
            signingKey = try RSASigningKey(pem: configuration.credentials.privateKey.reveal())
        } catch {
            throw StoreError(
                .unauthorized, "gcs store '\(name)': the private key of \(configuration.credentials): \(error)")
        }
        self.name = name
        self.configuration = configuration
        self.logger = logger
        self.now = now
        let endpoint =
            configuration.endpoint == GCSStoreConfiguration.defaultEndpoint ? "" : " at \(configuration.base)"
        http = HTTPClient(
            owner: "gcs store '\(name)' (gs://\(configuration.bucket)\(endpoint))", caFile: configuration.caFile,
            connectTimeout: configuration.connectTimeout, stallTimeout: configuration.stallTimeout)
        retrier = Retrier(policy: configuration.retryPolicy, logger: logger)
        tokens = AccessTokenCache(refreshMargin: tokenRefreshMargin, ownerName: "gcs store '\(name)'")
        tokens.attach(self)
    }

    public var description: String { http.owner }

    // MARK: Store

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try ObjectName.validate(objectName)
        return GCSObjectWriter(store: self, objectName: objectName, session: try startUpload(objectName))
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try ObjectName.validate(objectName)
        let what = "download of \(objectName)"
        let checking = CRC32CSink(sink)
        var request = HTTPRequest("GET", objectURL(objectName) + "?alt=media")
        request.sink = checking
        let response = try sendAuthorized(request, what: what)
        guard response.status == 200 else {
            if response.status == 404 { throw StoreError(.notFound, "\(self): \(objectName) does not exist") }
            throw failure(response, what)
        }
        // GCS sends the stored object's checksums in X-Goog-Hash (one header per hash, or one list).
        if let expected = Self.googHash(response, "crc32c"), expected != checking.crc.base64 {
            throw StoreError(
                .integrity,
                "\(self): the download of \(objectName) does not match the crc32c GCS has for it "
                    + "(received \(checking.crc.base64), expected \(expected))")
        }
    }

    public func list(prefix: String) throws -> [StoredObject] {
        var objects: [StoredObject] = []
        var pageToken: String?
        repeat {
            var query = [("fields", "items(name,size,updated),nextPageToken"), ("maxResults", "1000")]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if let pageToken { query.append(("pageToken", pageToken)) }
            var request = HTTPRequest("GET", bucketURL + "/o?" + URIEncoding.query(query))
            request.responseLimit = 32 << 20
            let what = "listing of \(prefix.isEmpty ? "the bucket" : prefix)"
            let response = try sendAuthorized(request, what: what)
            guard response.status == 200 else { throw failure(response, what) }
            guard let page = GCSJSON.objectList(response.body) else {
                throw StoreError(
                    .io,
                    "\(self): \(what) failed: the answer is not an object list: \(HTTPFailure.excerpt(response.body))")
            }
            objects += page.items.map { StoredObject(name: $0.name, size: $0.size, modified: $0.updated) }
            if let next = page.nextPageToken, next == pageToken {
                throw StoreError(.io, "\(self): \(what) failed: GCS sent the same page token twice")
            }
            pageToken = page.nextPageToken
        } while pageToken != nil
        return objects.sorted { $0.name < $1.name }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try ObjectName.validate(objectName)
        let what = "stat of \(objectName)"
        let response = try sendAuthorized(HTTPRequest("GET", objectURL(objectName)), what: what)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw failure(response, what) }
        guard let object = GCSJSON.object(response.body) else {
            throw StoreError(.io, "\(self): \(what) failed: the answer is not an object resource")
        }
        return StoredObject(name: objectName, size: object.size, modified: object.updated)
    }

    public func delete(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        try delete(objectName, generation: nil)
    }

    /// Nothing to remove: an unfinished resumable upload is invisible and holds no object; GCS forgets
    /// the session a week after it started (a writer that is aborted cancels its session at once).
    public func removeIncomplete(prefix: String) throws -> [String] { [] }

    // MARK: Requests

    var bucketURL: String { configuration.base + "/storage/v1/b/" + URIEncoding.encode(configuration.bucket) }

    func objectURL(_ objectName: String) -> String { bucketURL + "/o/" + URIEncoding.encode(objectName) }

    /// Deletes an object, or one generation of it; a missing object is not an error.
    func delete(_ objectName: String, generation: String?) throws {
        let what = "delete of \(objectName)"
        var url = objectURL(objectName)
        if let generation { url += "?" + URIEncoding.query([("generation", generation)]) }
        let response = try sendAuthorized(HTTPRequest("DELETE", url), what: what)
        guard (200..<300).contains(response.status) || response.status == 404 else { throw failure(response, what) }
    }

    /// Opens a resumable upload session; returns its URI.
    ///
    /// No `ifGenerationMatch` precondition: the Store contract lets an upload replace an object of the
    /// same name (snapshot names are unique anyway), and `ifGenerationMatch=0` would turn an upload
    /// opened again after a lost answer into a 412 failure.
    private func startUpload(_ objectName: String) throws -> String {
        let what = "upload of \(objectName)"
        let url =
            configuration.base + "/upload/storage/v1/b/" + URIEncoding.encode(configuration.bucket) + "/o?"
            + URIEncoding.query([("uploadType", "resumable"), ("name", objectName)])
        let request = HTTPRequest(
            "POST", url, headers: [("X-Upload-Content-Type", "application/octet-stream")])
        let response = try sendAuthorized(request, what: what)
        guard response.status == 200 || response.status == 201 else { throw failure(response, what) }
        guard let location = response.header("Location"), !location.isEmpty,
            let session = URL(string: location, relativeTo: configuration.endpoint)?.absoluteString
        else {
            throw StoreError(.io, "\(self): \(what) failed: GCS did not say where to send the data (no Location)")
        }
        return session
    }

    /// Sends `request` with the access token (a 401 gets one more try with a new token).
    func sendAuthorized(_ request: HTTPRequest, what: String) throws -> CurlResponse {
        try http.send(request, what: what, authorizedBy: tokens, store: name, logger: logger)
    }

    /// Sends a request to a resumable session URI: with the access token when the URI is on the
    /// endpoint (as Google's clients do), without it anywhere else (the URI is its own credential).
    func sendToSession(_ request: HTTPRequest, session: String, what: String) throws -> CurlResponse {
        guard let url = URL(string: session), url.scheme == configuration.endpoint.scheme,
            url.host == configuration.endpoint.host, url.port == configuration.endpoint.port
        else {
            return try http.send(request, what: what)
        }
        return try sendAuthorized(request, what: what)
    }

    // MARK: Errors

    /// The error for a non-success answer: the store, the operation, the status, GCS's reason and message.
    func failure(_ response: CurlResponse, _ what: String) -> StoreError {
        let parsed = GCSJSON.error(response.body)
        let reasons = parsed?.reasons ?? []
        var detail = "HTTP \(response.status)"
        if !reasons.isEmpty { detail += " (\(reasons.joined(separator: ", ")))" }
        if let message = parsed?.message, !message.isEmpty {
            detail += ": \(message)"
        } else if !response.body.isEmpty {
            detail += ": \(HTTPFailure.excerpt(response.body))"
        }
        var code = HTTPFailure.code(for: response.status)
        var hint = ""
        switch response.status {
        case 401:
            hint = "; GCS refused a fresh access token for \(configuration.credentials)"
        case 403 where reasons.contains { $0 == "rateLimitExceeded" || $0 == "userRateLimitExceeded" }:
            code = .unavailable
        case 403:
            hint =
                "; \(configuration.credentials.clientEmail) needs the Storage Object User role "
                + "(roles/storage.objectUser) on bucket \(configuration.bucket)"
        default:
            break
        }
        return StoreError(
            code, "\(self): \(what) failed: \(detail)\(hint)",
            retryAfter: code == .unavailable ? HTTPFailure.retryAfter(response) : nil)
    }

    /// The value of `kind` (`crc32c`, `md5`) in the answer's `X-Goog-Hash` headers.
    static func googHash(_ response: CurlResponse, _ kind: String) -> String? {
        for line in response.headerLines where line.lowercased().hasPrefix("x-goog-hash:") {
            for item in line.dropFirst("x-goog-hash:".count).split(separator: ",") {
                let pair = item.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix(kind + "=") { return String(pair.dropFirst(kind.count + 1)) }
            }
        }
        return nil
    }
}

/// Lets the token cache's fetch closure reach its store without keeping it alive.

/// Passes bytes on while computing their CRC-32C.
final class CRC32CSink: ByteSink {
    private let base: any ByteSink
    private(set) var crc = CRC32C()

    init(_ base: any ByteSink) { self.base = base }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try base.write(bytes)
        crc.update(bytes)
    }
}
