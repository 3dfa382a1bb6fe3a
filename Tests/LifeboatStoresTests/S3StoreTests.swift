import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@testable import LifeboatStores

/// The S3 store against SeaweedFS (`weed mini`, SigV4 checked) from `packaging/test-servers.sh`,
/// directly and through the fault proxy in front of it. Every test writes under a prefix of its own.
@Suite final class S3StoreTests {
    let servers: TestServers
    let prefix = "s3-store-" + UUID().uuidString
    let fast = RetryPolicy(attempts: 4, initialDelay: 0.05, maxDelay: 0.2)

    init() throws {
        servers = try TestServers.load()
    }

    deinit {
        if let store = try? store() {
            for object in (try? store.list(prefix: prefix + "/")) ?? [] { try? store.delete(object.name) }
            _ = try? store.removeIncomplete(prefix: prefix + "/")
        }
    }

    func store(
        through proxy: Bool = false, accessKeyKey: String = "S3_ACCESS_KEY_ID",
        secretKey: String = "S3_SECRET_ACCESS_KEY_FILE", secret: Secret? = nil, threshold: Int = 64 << 20,
        partSize: Int = 5 << 20, concurrency: Int = 3, objectLock: S3StoreConfiguration.ObjectLock? = nil,
        bucket: String? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> S3Store {
        let configuration = S3StoreConfiguration(
            endpoint: URL(string: try servers[proxy ? "S3_PROXY_ENDPOINT" : "S3_ENDPOINT"])!,
            region: try servers["S3_REGION"], bucket: try bucket ?? servers["S3_BUCKET"], pathStyle: true,
            accessKeyID: try servers[accessKeyKey],
            secretAccessKey: try secret ?? Secret(servers.contents(ofFileIn: secretKey)),
            multipartThreshold: threshold, partSize: partSize, concurrency: concurrency, objectLock: objectLock,
            connectTimeout: 10, stallTimeout: 20, retryPolicy: fast)
        return try S3Store(name: "offsite", configuration: configuration, now: now)
    }

    /// The proxy is shared by tests running in parallel: every rule names this test's prefix in
    /// its path, and only this test's requests are read back from the log.
    func proxy() throws -> FaultProxy {
        FaultProxy(endpoint: try servers["S3_PROXY_ENDPOINT"], scope: prefix)
    }


    // MARK: Conformance

    @Test func conformanceWithSinglePuts() throws {
        try StoreConformance.run(store(), prefix: prefix + "/single", interruptedUploadsLeaveTraces: false)
    }

    @Test func conformanceWithEveryObjectMultipart() throws {
        try StoreConformance.run(store(threshold: 1), prefix: prefix + "/multi")
    }

    // MARK: Uploads

    @Test func singlePutIsCheckedByTheServer() throws {
        let store = try store()
        let data = StoreConformance.bytes(3 << 20, seed: 11)
        let stored = try StoreConformance.upload(store, "\(prefix)/one.bin", data)
        #expect(stored.size == Int64(data.count))
        #expect(stored.verification?.contains("Content-MD5") == true)
        #expect(try store.getBytes("\(prefix)/one.bin") == data)
    }

    @Test func largeObjectsGoUpAsMultipartInParallel() throws {
        let store = try store(through: true, threshold: 5 << 20, partSize: 5 << 20, concurrency: 3)
        let proxy = try proxy()
        let data = StoreConformance.bytes(17 << 20 + 12345, seed: 12)
        let stored = try StoreConformance.upload(store, "\(prefix)/multi.bin", data)
        #expect(stored.verification == "4 parts with Content-MD5, multipart ETag, size")
        #expect(try store.getBytes("\(prefix)/multi.bin", limit: 32 << 20) == data)
        let parts = try proxy.log().filter { $0.method == "PUT" && $0.query.contains("partNumber=") }
        #expect(parts.count == 4)
        #expect(parts.allSatisfy { $0.headers.keys.contains { $0.lowercased() == "content-md5" } })
        let head = try store.head("\(prefix)/multi.bin")
        #expect(head?.etag?.hasSuffix("-4") == true)
    }

    @Test func keysWithSpacesAndUnicodeAreSignedCorrectly() throws {
        let store = try store()
        for name in ["\(prefix)/with space+plus.bin", "\(prefix)/zürich/ä€😀.age", "\(prefix)/a=b&c;d,e(f).bin"] {
            try store.put(name, bytes: [1, 2, 3])
            #expect(try store.getBytes(name) == [1, 2, 3])
            #expect(try store.list(prefix: prefix + "/").map(\.name).contains(name))
            try store.delete(name)
            #expect(try store.stat(name) == nil)
        }
    }

    @Test func listingFollowsContinuationTokens() throws {
        let store = try store()
        let names = (0..<1005).map { String(format: "\(prefix)/many/%04d", $0) }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for (index, name) in names.enumerated() where index % 8 == worker {
                _ = try? store.put(name, bytes: [UInt8(index % 256)])
            }
        }
        #expect(try store.list(prefix: "\(prefix)/many/").map(\.name) == names)
    }

    // MARK: Faults

    @Test func aWrongSecretIsRefusedAndNotRetried() throws {
        let store = RetryingStore(
            try store(through: true, secret: Secret("not-the-secret")), policy: fast)
        let proxy = try proxy()
        let error = try #require(throws: StoreError.self) { try store.put("\(prefix)/x.bin", bytes: [1]) }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("SignatureDoesNotMatch"))
        #expect(error.message.contains("secret_access_key"))
        #expect(!error.message.contains("not-the-secret"))
        #expect(try proxy.log().count == 1)
    }

    @Test func aReadOnlyKeyCannotUpload() throws {
        let store = try store(
            accessKeyKey: "S3_READONLY_ACCESS_KEY_ID", secretKey: "S3_READONLY_SECRET_ACCESS_KEY_FILE")
        let error = try #require(throws: StoreError.self) { try store.put("\(prefix)/x.bin", bytes: [1]) }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("403"))
    }

    @Test func aSkewedClockIsNamedAsTheCause() throws {
        let store = try store(now: { Date().addingTimeInterval(-3600) })
        let error = try #require(throws: StoreError.self) { _ = try store.list(prefix: prefix) }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("clock"))
    }

    @Test func aMissingBucketIsNamed() throws {
        let store = try store(bucket: "no-such-bucket-\(UInt32.random(in: 0...UInt32.max))")
        let error = try #require(throws: StoreError.self) { _ = try store.list(prefix: "") }
        #expect(error.code == .notFound)
        #expect(error.message.contains("does not exist"))
    }

    @Test func aPartFailingWithSlowDownTwiceIsRetriedAlone() throws {
        let store = try store(through: true, threshold: 5 << 20)
        let proxy = try proxy()
        try proxy.add([
            [
                "method": "PUT", "query": "partNumber=2&", "times": 2, "status": 503,
                "headers": ["Retry-After": "0"],
                "body": "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                    + "<Message>Please reduce your request rate.</Message><RequestId>R1</RequestId></Error>",
            ]
        ])
        let data = StoreConformance.bytes(12 << 20, seed: 13)
        try StoreConformance.upload(store, "\(prefix)/slow.bin", data)
        #expect(try store.getBytes("\(prefix)/slow.bin", limit: 16 << 20) == data)
        let parts = try proxy.log().filter { $0.method == "PUT" && $0.query.contains("partNumber=") }
        let byNumber = Dictionary(grouping: parts) { request in
            request.query.split(separator: "&").first { $0.hasPrefix("partNumber=") }.map(String.init) ?? ""
        }
        #expect(byNumber["partNumber=1"]?.count == 1)
        #expect(byNumber["partNumber=2"]?.count == 3)
        #expect(byNumber["partNumber=3"]?.count == 1)
    }

    @Test func aConnectionDroppedMidPartIsRetried() throws {
        let store = try store(through: true, threshold: 5 << 20)
        let proxy = try proxy()
        try proxy.add([["method": "PUT", "query": "partNumber=1&", "times": 1, "drop_after_bytes": 1 << 20]])
        let data = StoreConformance.bytes(11 << 20, seed: 14)
        try StoreConformance.upload(store, "\(prefix)/dropped.bin", data)
        #expect(try store.getBytes("\(prefix)/dropped.bin", limit: 16 << 20) == data)
        let first = try proxy.log().filter { $0.query.contains("partNumber=1&") }
        #expect(first.count == 2)
    }

    @Test func aPartThatKeepsFailingAbortsTheUpload() throws {
        let store = try store(through: true, threshold: 5 << 20)
        let proxy = try proxy()
        try proxy.add([["method": "PUT", "query": "partNumber=2&", "times": 100, "status": 500]])
        let error = try #require(throws: StoreError.self) {
            try StoreConformance.upload(store, "\(prefix)/failed.bin", StoreConformance.bytes(11 << 20, seed: 15))
        }
        #expect(error.code == .unavailable)
        #expect(try store.stat("\(prefix)/failed.bin") == nil)
        #expect(try store.incompleteUploads(prefix: "\(prefix)/").isEmpty, "the upload was aborted")
        #expect(try proxy.log().contains { $0.method == "DELETE" && $0.query.contains("uploadId=") })
    }

    @Test func aWrongContentMD5IsRefusedByTheServer() throws {
        let store = try store()
        var request = S3Store.S3Request("PUT", key: "\(prefix)/bad.bin")
        request.headers = [("Content-MD5", Data(MessageDigest.hash(.md5, [9, 9, 9])).base64EncodedString())]
        request.body = [PartBuffer(copying: [1, 2, 3])]
        let response = try store.send(request, what: "test")
        let error = store.error(response, "upload of bad.bin")
        #expect(error.code == .integrity, "\(error)")
        #expect(try store.stat("\(prefix)/bad.bin") == nil)
    }

    @Test func aStaleMultipartUploadIsAbortedByTheNextCleanup() throws {
        let store = try store(threshold: 5 << 20)
        var writer: S3ObjectWriter? = try #require(store.makeWriter(for: "\(prefix)/killed.bin") as? S3ObjectWriter)
        try writer!.write(StoreConformance.bytes(11 << 20, seed: 16))
        // The process dies here: the writer neither commits nor aborts.
        let leftovers = Unmanaged.passRetained(writer!)
        writer = nil
        #expect(try store.stat("\(prefix)/killed.bin") == nil)
        #expect(try store.incompleteUploads(prefix: "\(prefix)/").map(\.key) == ["\(prefix)/killed.bin"])
        #expect(try store.removeIncomplete(prefix: "\(prefix)/") == ["\(prefix)/killed.bin"])
        #expect(try store.incompleteUploads(prefix: "\(prefix)/").isEmpty)
        _ = leftovers
    }

    @Test func settingsS3WouldRefuseAreRefusedFirst() throws {
        #expect(throws: StoreError.self) { _ = try self.store(partSize: 1 << 20) }
    }
}

/// SigV4 against the worked examples of the S3 API reference ("Signature calculations for the
/// Authorization header"), key AKIAIOSFODNN7EXAMPLE, region us-east-1, 2013-05-24T00:00:00Z.
@Suite struct SigV4SignerTests {
    let signer = SigV4Signer(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)
    let host = (name: "Host", value: "examplebucket.s3.amazonaws.com")

    func signature(_ headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name == "Authorization" }?.value.components(separatedBy: "Signature=").last
    }

    @Test func getObject() {
        let headers = signer.sign(
            method: "GET", path: "/test.txt", query: [], headers: [host, ("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.first { $0.name == "Authorization" }?.value.contains(
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date") == true)
    }

    @Test func putObject() {
        let payload = Hex.encode(MessageDigest.hash(.sha256, Array("Welcome to Amazon S3.".utf8)))
        let headers = signer.sign(
            method: "PUT", path: "/" + URIEncoding.encode("test$file.text", keepSlash: true), query: [],
            headers: [
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"), host, ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ], payloadHash: payload, date: date)
        #expect(signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycle() {
        let headers = signer.sign(
            method: "GET", path: "/", query: [("lifecycle", "")], headers: [host],
            payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsSortsTheQuery() {
        let headers = signer.sign(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [host],
            payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func xmlAnswersAreDecoded() {
        let document = S3XML(
            Array(
                "<ListBucketResult><Contents><Key>a &amp; b&#x2F;c</Key><Size>3</Size></Contents><KeyCount>1</KeyCount></ListBucketResult>"
                    .utf8))
        #expect(document.elements("Contents").first?.value("Key") == "a & b/c")
        #expect(document.value("KeyCount") == "1")
        #expect(document.value("Key") == "a & b/c")
    }
}

/// Upload throughput of the S3 store, run by `packaging/bench-stores.sh` beside `rclone copyto` with
/// the same part size and concurrency: `LIFEBOAT_THROUGHPUT=1 LIFEBOAT_THROUGHPUT_FILE=BIG
/// .build/…/lifeboatPackageTests.xctest --testing-library swift-testing --filter S3ThroughputCheck`.
/// `LIFEBOAT_S3_PART_SIZE` and `LIFEBOAT_S3_CONCURRENCY` change the defaults (16 MiB, 4).
@Suite struct S3ThroughputCheck {
    static let enabled = ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT"] == "1"

    @Test(.enabled(if: enabled))
    func uploadAFile() throws {
        let environment = ProcessInfo.processInfo.environment
        let servers = try TestServers.load()
        let path = try #require(environment["LIFEBOAT_THROUGHPUT_FILE"], "set LIFEBOAT_THROUGHPUT_FILE to a large file")
        let store = try S3Store(
            name: "throughput",
            configuration: S3StoreConfiguration(
                endpoint: URL(string: try servers["S3_ENDPOINT"])!, region: try servers["S3_REGION"],
                bucket: try servers["S3_BUCKET"], pathStyle: true, accessKeyID: try servers["S3_ACCESS_KEY_ID"],
                secretAccessKey: Secret(try servers.contents(ofFileIn: "S3_SECRET_ACCESS_KEY_FILE")),
                partSize: environment["LIFEBOAT_S3_PART_SIZE"].flatMap(Int.init).map { $0 << 20 } ?? 16 << 20,
                concurrency: environment["LIFEBOAT_S3_CONCURRENCY"].flatMap(Int.init) ?? 4))
        let started = ContinuousClock.now
        let source = try FileSource(path: path)
        let writer = try store.makeWriter(for: "throughput-check/s3store.bin")
        try source.copy(to: writer, chunkSize: 1 << 20)
        let stored = try writer.commit()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("s3 store upload: \(stored.size >> 20) MiB in \(seconds) s = \(Int(Double(stored.size) / seconds / 1e6)) MB/s")
        try store.delete("throughput-check/s3store.bin")
    }
}

/// Object Lock on SeaweedFS's versioned bucket `S3_LOCKED_BUCKET`: objects written with
/// `object_lock` carry the mode and date, and their version cannot be deleted before it.
@Suite struct S3ObjectLockTests {
    @Test(arguments: [64 << 20, 1])
    func archivesAreWrittenWithRetentionThatRefusesDeletion(threshold: Int) throws {
        let servers = try TestServers.load()
        let store = try S3Store(
            name: "locked",
            configuration: S3StoreConfiguration(
                endpoint: URL(string: try servers["S3_ENDPOINT"])!, region: try servers["S3_REGION"],
                bucket: try servers["S3_LOCKED_BUCKET"], pathStyle: true, accessKeyID: try servers["S3_ACCESS_KEY_ID"],
                secretAccessKey: Secret(try servers.contents(ofFileIn: "S3_SECRET_ACCESS_KEY_FILE")),
                multipartThreshold: threshold, partSize: 5 << 20, objectLock: .init(mode: .governance, days: 2)))
        let name = "lock-\(UUID().uuidString)/a.age"
        try store.put(name, bytes: StoreConformance.bytes(1000))
        let head = try store.send(S3Store.S3Request("HEAD", key: name), what: "test")
        #expect(head.header("x-amz-object-lock-mode") == "GOVERNANCE")
        let until = try #require(head.header("x-amz-object-lock-retain-until-date").flatMap(S3Store.parseISO8601))
        #expect(abs(Double(until) - Date().addingTimeInterval(2 * 86_400).timeIntervalSince1970) < 120)
        let version = try #require(head.header("x-amz-version-id"))
        var delete = S3Store.S3Request("DELETE", key: name)
        delete.query = [("versionId", version)]
        let refused = try store.send(delete, what: "delete of the locked version")
        #expect(refused.status == 403, "a locked version must not be deletable")
        // Deleting the name only hides it behind a delete marker: the version stays protected.
        try store.delete(name)
        #expect(try store.stat(name) == nil)
    }
}
