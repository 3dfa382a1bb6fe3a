import Foundation
import LifeboatCore

/// Where and how an ``S3Store`` reaches its bucket.
public struct S3StoreConfiguration: Sendable {
    /// S3 Object Lock retention applied to every object written.
    public struct ObjectLock: Sendable, Equatable {
        public enum Mode: String, Sendable, CaseIterable {
            /// Users with `s3:BypassGovernanceRetention` may still delete.
            case governance = "GOVERNANCE"
            /// Nobody, the root account included, can delete before the date.
            case compliance = "COMPLIANCE"
        }

        public var mode: Mode
        public var days: Int

        public init(mode: Mode, days: Int) {
            self.mode = mode
            self.days = days
        }
    }

    /// `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:8333`: scheme, host and port.
    public var endpoint: URL
    public var region: String
    public var bucket: String
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`.
    public var pathStyle: Bool
    public var accessKeyID: String
    public var secretAccessKey: Secret
    /// Objects up to this size go up in one PUT; larger ones as multipart uploads.
    public var multipartThreshold: Int
    /// The size of each part of a multipart upload (at least 5 MiB, the S3 minimum).
    public var partSize: Int
    /// Parts uploaded at the same time.
    public var concurrency: Int
    /// `x-amz-storage-class` (e.g. `STANDARD_IA`, `GLACIER_IR`), or the bucket's default.
    public var storageClass: String?
    public var objectLock: ObjectLock?
    /// Certificate authorities to trust for the endpoint's certificate, instead of the system's.
    public var caFile: String?
    public var connectTimeout: Double
    /// A transfer that moves no byte for this long is abandoned as stalled.
    public var stallTimeout: Double
    /// How often a failed request (one part, one listing) is tried again.
    public var retryPolicy: RetryPolicy

    public static let minimumPartSize = 5 << 20
    /// S3's limit on parts per upload.
    public static let maximumParts = 10_000

    public init(
        endpoint: URL, region: String, bucket: String, pathStyle: Bool = false, accessKeyID: String,
        secretAccessKey: Secret, multipartThreshold: Int = 64 << 20, partSize: Int = 16 << 20,
        concurrency: Int = 4, storageClass: String? = nil, objectLock: ObjectLock? = nil, caFile: String? = nil,
        connectTimeout: Double = 30, stallTimeout: Double = 60, retryPolicy: RetryPolicy = RetryPolicy()
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.pathStyle = pathStyle
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
        self.concurrency = max(1, concurrency)
        self.storageClass = storageClass
        self.objectLock = objectLock
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.retryPolicy = retryPolicy
    }

    /// What is wrong with the settings, or nil: the part size and the threshold S3 accepts.
    public var problem: String? {
        if partSize < Self.minimumPartSize { return "part_size must be at least 5 MiB (S3's minimum part size)" }
        if partSize > 5 << 30 { return "part_size must be at most 5 GiB (S3's maximum part size)" }
        if multipartThreshold < 1 { return "multipart_threshold must be positive" }
        if multipartThreshold > 5 << 30 { return "multipart_threshold must be at most 5 GiB (S3's largest PUT)" }
        guard let scheme = endpoint.scheme, scheme == "https" || scheme == "http", endpoint.host != nil else {
            return "endpoint must be an http:// or https:// URL with a host"
        }
        if bucket.isEmpty || bucket.contains("/") { return "bucket must be a bucket name" }
        if objectLock.map({ $0.days < 1 }) == true { return "object_lock.days must be at least 1" }
        return nil
    }

    /// Bytes held in memory by one upload at most: whole parts waiting or in flight.
    public var bufferBudget: Int {
        partSize * max(concurrency, (multipartThreshold + partSize - 1) / partSize)
    }

    /// `endpoint`, bucket: for messages (never with credentials).
    public var displayName: String { "bucket \(bucket) at \(endpoint.absoluteString)" }
}
