import Foundation
import LifeboatCore

/// Where and how a ``GCSStore`` reaches its bucket.
public struct GCSStoreConfiguration: Sendable {
    /// `bucket`: the bucket's name.
    public var bucket: String
    /// `endpoint`: the JSON API base (scheme, host, port), `https://storage.googleapis.com` unless
    /// an emulator or a private endpoint is used.
    public var endpoint: URL
    /// `credentials_file`, parsed: the service account the store logs in as.
    public var credentials: GCSServiceAccount
    /// The OAuth 2.0 scope asked for.
    public var scope: String
    /// `chunk_size`: bytes per request of a resumable upload, a multiple of 256 KiB (GCS's rule). The
    /// writer holds one chunk in memory; a failed chunk is sent again from where GCS says it stopped.
    public var chunkSize: Int
    /// `ca_file`: certificate authorities to trust for the endpoints' certificates, instead of the system's.
    public var caFile: String?
    /// `allow_insecure`: accept `http://` for the endpoint and the token URI (emulators, tests).
    public var allowInsecure: Bool
    public var connectTimeout: Double
    /// A transfer that moves no byte for this long is abandoned as stalled.
    public var stallTimeout: Double
    /// How often a failed request (one chunk, one listing) is tried again.
    public var retryPolicy: RetryPolicy

    public static let defaultEndpoint = URL(string: "https://storage.googleapis.com")!
    public static let readWriteScope = "https://www.googleapis.com/auth/devstorage.read_write"
    /// GCS wants every chunk but the last to be a multiple of this.
    public static let chunkGranularity = 256 << 10
    public static let defaultChunkSize = 16 << 20

    public init(
        bucket: String, endpoint: URL = GCSStoreConfiguration.defaultEndpoint, credentials: GCSServiceAccount,
        scope: String = GCSStoreConfiguration.readWriteScope, chunkSize: Int = GCSStoreConfiguration.defaultChunkSize,
        caFile: String? = nil, allowInsecure: Bool = false, connectTimeout: Double = 30, stallTimeout: Double = 60,
        retryPolicy: RetryPolicy = RetryPolicy()
    ) {
        self.bucket = bucket
        self.endpoint = endpoint
        self.credentials = credentials
        self.scope = scope
        self.chunkSize = chunkSize
        self.caFile = caFile
        self.allowInsecure = allowInsecure
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.retryPolicy = retryPolicy
    }

    /// What is wrong with the settings, or nil.
    public var problem: String? {
        if bucket.isEmpty || bucket.contains("/") { return "bucket must be a bucket name, without slashes" }
        if chunkSize <= 0 || chunkSize % Self.chunkGranularity != 0 {
            return "chunk_size must be a positive multiple of 256 KiB (262144 bytes), e.g. 8 MiB or 16 MiB"
        }
        if chunkSize > 1 << 30 { return "chunk_size must be at most 1 GiB (the writer holds one chunk in memory)" }
        guard let scheme = endpoint.scheme, scheme == "https" || scheme == "http", endpoint.host != nil else {
            return "endpoint must be an http:// or https:// URL with a host"
        }
        if scheme == "http" && !allowInsecure {
            return "endpoint \(endpoint.absoluteString) is plain http: the archives and the access token would "
                + "cross the network in clear text; use https, or set allow_insecure: true (emulators)"
        }
        if credentials.tokenURI.hasPrefix("http://") && !allowInsecure {
            return "the token_uri of \(credentials) is plain http: the signed login would cross the network "
                + "in clear text; use https, or set allow_insecure: true (emulators)"
        }
        return nil
    }

    /// The endpoint without a trailing slash, e.g. `https://storage.googleapis.com`.
    var base: String {
        var text = endpoint.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
