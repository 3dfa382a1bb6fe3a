import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl
import Logging

/// A bucket on Amazon S3 or an S3-compatible server (SeaweedFS, MinIO, Ceph RGW, Wasabi, …).
///
/// Every request is signed with AWS Signature V4 over the real payload hash. Objects up to
/// `multipart_threshold` go up in one PUT with `Content-MD5` and `x-amz-checksum-sha256`; larger ones
/// as a multipart upload whose parts (each with `Content-MD5`) go up `concurrency` at a time, each
/// retried alone. Either way S3 makes the object visible only when the upload is complete, and the
/// writer then checks the ETag and the size. Interrupted multipart uploads are invisible but keep
/// their parts (and cost storage) until aborted: ``removeIncomplete(prefix:)`` aborts them.
///
/// Whole operations (list, get, stat, delete) are retried by ``RetryingStore`` around this store;
/// the pieces of one upload (creating it, each part, completing it) are retried here.
public final class S3Store: Store, @unchecked Sendable {
    // @unchecked: every field is immutable; HTTPClient is thread-safe.
    public let name: String
    public let configuration: S3StoreConfiguration
    let http: HTTPClient
    let signer: SigV4Signer
    let retrier: Retrier
    let logger: Logger?
    /// The clock for request dates (tests move it to provoke `RequestTimeTooSkewed`).
    let now: @Sendable () -> Date

    public init(
        name: String, configuration: S3StoreConfiguration, logger: Logger? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        if let problem = configuration.problem {
            throw StoreError(.io, "s3 store '\(name)': \(problem)")
        }
        self.name = name
        self.configuration = configuration
        self.logger = logger
        self.now = now
        let description = "s3 store '\(name)' (\(configuration.displayName))"
        http = HTTPClient(
            owner: description, caFile: configuration.caFile, connectTimeout: configuration.connectTimeout,
            stallTimeout: configuration.stallTimeout)
        signer = SigV4Signer(
            accessKeyID: configuration.accessKeyID, secretAccessKey: configuration.secretAccessKey,
            region: configuration.region)
        retrier = Retrier(policy: configuration.retryPolicy, logger: logger)
    }

    public var description: String { http.owner }

    // MARK: Store

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try ObjectName.validate(objectName)
        return S3ObjectWriter(store: self, key: objectName)
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try ObjectName.validate(objectName)
        var request = S3Request("GET", key: objectName)
        request.sink = sink
        let response = try send(request, what: "download of \(objectName)")
        try expect(response, [200], "download of \(objectName)")
    }

    public func list(prefix: String) throws -> [StoredObject] {
        var objects: [StoredObject] = []
        var token: String?
        repeat {
            var request = S3Request("GET", key: nil)
            request.query = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")]
            if let token { request.query.append(("continuation-token", token)) }
            let response = try send(request, what: "listing")
            try expect(response, [200], "listing")
            let document = S3XML(response.body)
            for entry in document.elements("Contents") {
                guard let key = entry.value("Key"), let size = entry.value("Size").flatMap(Int64.init) else {
                    throw StoreError(.io, "\(self): listing failed: the answer has an entry without Key or Size")
                }
                let modified = entry.value("LastModified").flatMap(Self.parseISO8601)
                objects.append(StoredObject(name: key, size: size, modified: modified))
            }
            let truncated = document.value("IsTruncated") == "true"
            token = truncated ? document.value("NextContinuationToken") : nil
            if truncated && token == nil {
                throw StoreError(.io, "\(self): listing failed: the answer is truncated but has no continuation token")
            }
        } while token != nil
        return objects.sorted { $0.name < $1.name }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try ObjectName.validate(objectName)
        guard let head = try head(objectName) else { return nil }
        return StoredObject(name: objectName, size: head.size, modified: head.modified)
    }

    public func delete(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        let response = try send(S3Request("DELETE", key: objectName), what: "delete of \(objectName)")
        try expect(response, [200, 204, 404], "delete of \(objectName)")
    }

    /// Aborts the multipart uploads under `prefix` that never completed (a killed run leaves one
    /// behind: invisible, but its parts are stored and billed until aborted).
    public func removeIncomplete(prefix: String) throws -> [String] {
        var removed: [String] = []
        for upload in try incompleteUploads(prefix: prefix) {
            try abortUpload(key: upload.key, uploadID: upload.uploadID)
            removed.append(upload.key)
        }
        return removed
    }

    // MARK: Requests

    /// One S3 request before signing.
    struct S3Request {
        var method: String
        /// The object key, or nil for a request on the bucket itself.
        var key: String?
        var query: [(String, String)] = []
        var headers: [(name: String, value: String)] = []
        var body: [PartBuffer]?
        /// Hex SHA-256 of the body, when the caller already has it.
        var payloadHash: String?
        var sink: (any ByteSink)?
        var cancellation: CurlCancellation?

        init(_ method: String, key: String?) {
            self.method = method
            self.key = key
        }
    }

    /// Signs and sends `request`; transport failures become store errors, statuses are returned.
    func send(_ request: S3Request, what: String) throws -> CurlResponse {
        let endpoint = configuration.endpoint
        let host = endpoint.host!
        var authority = host.contains(":") ? "[\(host)]" : host
        if let port = endpoint.port, !(endpoint.scheme == "http" && port == 80 || endpoint.scheme == "https" && port == 443) {
            authority += ":\(port)"
        }
        let basePath = endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
        var path = basePath
        if configuration.pathStyle {
            path += "/" + URIEncoding.encode(configuration.bucket)
        } else {
            authority = configuration.bucket + "." + authority
        }
        path += "/" + (request.key.map { URIEncoding.encode($0, keepSlash: true) } ?? "")

        let payloadHash: String
        if let hash = request.payloadHash {
            payloadHash = hash
        } else if let body = request.body {
            let digest = MessageDigest(.sha256)
            for chunk in body { digest.update(chunk.bytes) }
            payloadHash = Hex.encode(digest.finalize())
        } else {
            payloadHash = SigV4Signer.emptyPayloadHash
        }
        let signedHeaders = [(name: "Host", value: authority)] + request.headers
        let authorization = signer.sign(
            method: request.method, path: path, query: request.query, headers: signedHeaders,
            payloadHash: payloadHash, date: now())

        let query = request.query.isEmpty ? "" : "?" + URIEncoding.query(request.query)
        var http = HTTPRequest(
            request.method, "\(endpoint.scheme!)://\(authority)\(path)\(query)",
            headers: signedHeaders + authorization)
        if let body = request.body {
            let size = body.reduce(0) { $0 + $1.count }
            http.body = .source(ChunkSource(body), size: Int64(size))
        }
        http.sink = request.sink
        http.cancellation = request.cancellation
        return try self.http.send(http, what: what)
    }

    /// Throws the store error S3's answer describes unless its status is one of `statuses`.
    func expect(_ response: CurlResponse, _ statuses: Set<Int>, _ what: String) throws {
        guard !statuses.contains(response.status) else { return }
        throw error(response, what)
    }

    /// The store error for a failed answer, from S3's `<Error>` document when there is one.
    /// `status` replaces the answer's own (a 200 whose body is an error counts as a 500).
    func error(_ response: CurlResponse, _ what: String, status: Int? = nil) -> StoreError {
        let status = status ?? response.status
        let document = S3XML(response.body)
        let code = document.value("Code")
        var message = "\(self): \(what) failed: HTTP \(status)"
        if let code { message += " \(code)" }
        if let text = document.value("Message") { message += ": \(text)" }
        if code == nil, !response.body.isEmpty { message += ": \(HTTPFailure.excerpt(response.body))" }
        if let requestID = document.value("RequestId") ?? response.header("x-amz-request-id") {
            message += " (request id \(requestID))"
        }
        var storeCode = HTTPFailure.code(for: status)
        switch code {
        case "SignatureDoesNotMatch":
            message += "; check secret_access_key"
        case "InvalidAccessKeyId":
            message += "; check access_key_id"
        case "AccessDenied" where status == 403:
            message += "; the key lacks permission for this operation on \(configuration.bucket)"
        case "RequestTimeTooSkewed":
            message += "; this machine's clock differs from the server's by more than 15 minutes: fix the time (NTP)"
        case "NoSuchBucket":
            message += "; the bucket \(configuration.bucket) does not exist (region \(configuration.region))"
        case "AuthorizationHeaderMalformed" where status == 400:
            storeCode = .unauthorized
            message += "; check region (configured: \(configuration.region))"
        case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum":
            storeCode = .integrity
        case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout":
            storeCode = .unavailable
        case "QuotaExceeded":
            storeCode = .storageFull
        case "EntityTooLarge" where status != 400:  // a 400 EntityTooLarge is a request over the size limit
            storeCode = .storageFull
        default:
            break
        }
        return StoreError(storeCode, message, retryAfter: HTTPFailure.retryAfter(response))
    }

    // MARK: Operations the writer uses

    struct Head {
        var size: Int64
        var modified: Int64?
        var etag: String?
    }

    func head(_ key: String) throws -> Head? {
        let response = try send(S3Request("HEAD", key: key), what: "stat of \(key)")
        if response.status == 404 { return nil }
        try expect(response, [200], "stat of \(key)")
        guard let size = response.header("Content-Length").flatMap(Int64.init) else {
            throw StoreError(.io, "\(self): stat of \(key) failed: the answer has no Content-Length")
        }
        let modified = response.header("Last-Modified").flatMap(HTTPFailure.httpDate).map { Int64($0.timeIntervalSince1970) }
        return Head(size: size, modified: modified, etag: response.header("ETag").map(Self.unquote))
    }

    /// Headers every new object gets: storage class and Object Lock retention.
    func objectHeaders() -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if let storageClass = configuration.storageClass { headers.append(("x-amz-storage-class", storageClass)) }
        if let lock = configuration.objectLock {
            let until = now().addingTimeInterval(Double(lock.days) * 86_400)
            headers.append(("x-amz-object-lock-mode", lock.mode.rawValue))
            headers.append(("x-amz-object-lock-retain-until-date", Self.formatISO8601(until)))
        }
        return headers
    }

    struct IncompleteUpload {
        var key: String
        var uploadID: String
    }

    func incompleteUploads(prefix: String) throws -> [IncompleteUpload] {
        var uploads: [IncompleteUpload] = []
        var keyMarker: String?
        var uploadIDMarker: String?
        repeat {
            var request = S3Request("GET", key: nil)
            request.query = [("uploads", ""), ("prefix", prefix)]
            if let keyMarker { request.query.append(("key-marker", keyMarker)) }
            if let uploadIDMarker { request.query.append(("upload-id-marker", uploadIDMarker)) }
            let response = try send(request, what: "listing of incomplete uploads")
            try expect(response, [200], "listing of incomplete uploads")
            let document = S3XML(response.body)
            for upload in document.elements("Upload") {
                guard let key = upload.value("Key"), let id = upload.value("UploadId") else { continue }
                uploads.append(IncompleteUpload(key: key, uploadID: id))
            }
            let truncated = document.value("IsTruncated") == "true"
            keyMarker = truncated ? document.value("NextKeyMarker") : nil
            uploadIDMarker = truncated ? document.value("NextUploadIdMarker") : nil
        } while keyMarker != nil
        return uploads
    }

    func abortUpload(key: String, uploadID: String) throws {
        var request = S3Request("DELETE", key: key)
        request.query = [("uploadId", uploadID)]
        let response = try send(request, what: "abort of the upload of \(key)")
        try expect(response, [200, 204, 404], "abort of the upload of \(key)")
    }

    // MARK: Formats

    static func unquote(_ etag: String) -> String {
        etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
    }

    /// Seconds since 1970 of an ISO 8601 time (`LastModified`, Object Lock dates).
    static func parseISO8601(_ text: String) -> Int64? {
        Timestamp.parseISO8601(text).map { Int64($0.timeIntervalSince1970) }
    }

    static func formatISO8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

}

/// Reads part buffers one after the other (a single PUT of buffered parts, without joining them
/// into one more copy).
final class ChunkSource: ByteSource {
    private let chunks: [PartBuffer]
    private var index = 0
    private var offset = 0

    init(_ chunks: [PartBuffer]) { self.chunks = chunks }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while index < chunks.count, offset == chunks[index].count {
            index += 1
            offset = 0
        }
        guard index < chunks.count else { return 0 }
        let n = min(buffer.count, chunks[index].count - offset)
        buffer.baseAddress!.copyMemory(from: chunks[index].bytes.baseAddress! + offset, byteCount: n)
        offset += n
        return n
    }
}
