import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@testable import LifeboatStores

/// The GCS store against gcp-storage-emulator behind the fault proxy of `packaging/test-servers.sh`,
/// which is also the OAuth2 token endpoint: it checks the JWT's RS256 signature with the test
/// service account's public key and requires the bearer tokens it issued.
///
/// Serialized: token expiry and token lifetime are global to the proxy, and resumable-session
/// requests carry the object name in the query, where ``FaultProxy``'s path scoping cannot see it;
/// rules here name this test's prefix in their `query` instead, and logs are read from an index.
@Suite(.serialized) final class GCSStoreTests {
    let servers: TestServers
    let prefix = "gcs-store-" + UUID().uuidString
    let fast = RetryPolicy(attempts: 4, initialDelay: 0.05, maxDelay: 0.2)
    static let uploadPath = "/upload/storage/v1/b/"

    init() throws {
        servers = try TestServers.load()
    }

    deinit {
        if let store = try? store() {
            for object in (try? store.list(prefix: prefix + "/")) ?? [] { try? store.delete(object.name) }
        }
    }

    func store(
        chunkSize: Int = 256 << 10, credentials: String = "GCS_CREDENTIALS_FILE", retryPolicy: RetryPolicy? = nil,
        refreshMargin: Double = 300
    ) throws -> GCSStore {
        let configuration = GCSStoreConfiguration(
            bucket: try servers["GCS_BUCKET"], endpoint: URL(string: try servers["GCS_ENDPOINT"])!,
            credentials: try GCSServiceAccount.load(file: try servers[credentials]), chunkSize: chunkSize,
            allowInsecure: true, connectTimeout: 10, stallTimeout: 20, retryPolicy: retryPolicy ?? fast)
        return try GCSStore(name: "offsite", configuration: configuration, tokenRefreshMargin: refreshMargin)
    }

    func proxy() throws -> FaultProxy { FaultProxy(endpoint: try servers["GCS_ENDPOINT"]) }

    /// Requests logged after the first `since`, of this test (its prefix in the path or query) and of
    /// the token endpoint.
    func log(since: Int) throws -> [FaultProxy.LoggedRequest] {
        try proxy().log().dropFirst(since).filter {
            $0.path == "/token" || $0.path.contains(prefix) || $0.query.contains(prefix)
        }
    }

    /// The session requests (chunks and status queries) of the upload of `name`, in order.
    func sessionPUTs(_ log: [FaultProxy.LoggedRequest], _ name: String) -> [FaultProxy.LoggedRequest] {
        log.filter {
            $0.method == "PUT" && $0.path.hasPrefix(Self.uploadPath) && $0.query.contains("upload_id=")
                && $0.query.contains("name=" + URIEncoding.encode(name) + "&")
        }
    }

    /// A rule for the next session request (chunk or status query) of uploads under `folder`.
    func sessionRule(_ folder: String, _ action: [String: Any]) -> [String: Any] {
        [
            "method": "PUT", "path": "^" + Self.uploadPath,
            "query": "name=" + URIEncoding.encode(prefix + "/" + folder + "/"),
        ]
        .merging(action) { $1 }
    }

    func writeAll(_ writer: any ObjectWriter, _ data: ArraySlice<UInt8>, piece: Int = 100_000) throws {
        var offset = data.startIndex
        while offset < data.endIndex {
            let end = min(data.endIndex, offset + piece)
            try writer.write(Array(data[offset..<end]))
            offset = end
        }
    }

    static func data(_ count: Int, seed: UInt8) -> [UInt8] { StoreConformance.bytes(count, seed: seed) }

    // MARK: Conformance and chunking

    @Test func conformance() throws {
        try StoreConformance.run(
            store(chunkSize: 1 << 20), prefix: prefix + "/conf", interruptedUploadsLeaveTraces: false)
    }

    @Test func uploadsInChunksOfTheConfiguredSizeAndChecksTheResult() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/chunks/a.bin"
        let data = Self.data((4 << 18) + 1000, seed: 5)
        let stored = try store.put(name, bytes: data)
        #expect(stored.size == Int64(data.count))
        #expect(stored.verification == "size, crc32c and md5 checked")
        #expect(try store.getBytes(name) == data)
        let ranges = sessionPUTs(try log(since: start), name).map { $0.headers["Content-Range"] ?? "-" }
        #expect(
            ranges == [
                "bytes 0-262143/*", "bytes 262144-524287/*", "bytes 524288-786431/*", "bytes 786432-1048575/*",
                "bytes 1048576-1049575/1049576",
            ])
    }

    @Test func anExactMultipleEndsWithAnEmptyLastChunk() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/exact/a.bin"
        let data = Self.data(512 << 10, seed: 6)
        try store.put(name, bytes: data)
        let puts = sessionPUTs(try log(since: start), name)
        #expect(
            puts.map { $0.headers["Content-Range"] ?? "-" } == [
                "bytes 0-262143/*", "bytes 262144-524287/*", "bytes */524288",
            ])
        #expect(puts.last?.bodyBytes == 0)
        #expect(try store.getBytes(name) == data)
    }

    // MARK: Faults during an upload

    /// The connection drops 100 000 bytes into the second chunk: GCS kept nothing of it, so the writer
    /// asks for the offset and sends that chunk again from there, and nothing before it.
    @Test func droppedChunkResumesAtTheServersOffset() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/drop/a.bin"
        let data = Self.data((3 << 18) + 5000, seed: 7)
        let writer = try store.makeWriter(for: name)
        try writeAll(writer, data[..<(256 << 10)])
        try proxy().add([sessionRule("drop", ["drop_after_bytes": 100_000])])
        try writeAll(writer, data[(256 << 10)...])
        let stored = try writer.commit()
        #expect(stored.size == Int64(data.count))
        #expect(try store.getBytes(name) == data)

        let puts = sessionPUTs(try log(since: start), name)
        let ranges = puts.map { $0.headers["Content-Range"] ?? "-" }
        #expect(
            ranges == [
                "bytes 0-262143/*", "bytes 262144-524287/*", "bytes */*", "bytes 262144-524287/*",
                "bytes 524288-786431/*", "bytes 786432-791431/791432",
            ])
        #expect(puts[1].fault == "drop_after_bytes")
        // What reached the server adds up to the object: no byte it held was sent twice.
        #expect(puts.filter { $0.fault == nil }.map(\.bodyBytes).reduce(0, +) == data.count)
    }

    /// The second chunk reaches GCS but the answer is lost (the proxy forwards it, then answers 503):
    /// the status query says GCS has it, so it is not sent again.
    @Test func chunkTheServerKeptIsNotSentAgain() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/kept/a.bin"
        let data = Self.data((3 << 18) + 5000, seed: 8)
        let writer = try store.makeWriter(for: name)
        try writeAll(writer, data[..<(256 << 10)])
        try proxy().add([sessionRule("kept", ["forward_then_status": 503])])
        try writeAll(writer, data[(256 << 10)...])
        _ = try writer.commit()
        #expect(try store.getBytes(name) == data)

        let puts = sessionPUTs(try log(since: start), name)
        #expect(
            puts.map { $0.headers["Content-Range"] ?? "-" } == [
                "bytes 0-262143/*", "bytes 262144-524287/*", "bytes */*", "bytes 524288-786431/*",
                "bytes 786432-791431/791432",
            ])
        #expect(puts[1].fault == "forward_then_status")
        #expect(puts.map(\.bodyBytes).reduce(0, +) == data.count)
    }

    @Test func droppedLastChunkIsSentAgainFromTheServersOffset() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/droplast/a.bin"
        let data = Self.data((256 << 10) + 70_000, seed: 9)
        let writer = try store.makeWriter(for: name)
        try writeAll(writer, data[..<(256 << 10)])
        try proxy().add([sessionRule("droplast", ["drop_after_bytes": 30_000])])
        try writeAll(writer, data[(256 << 10)...])
        _ = try writer.commit()
        #expect(try store.getBytes(name) == data)
        #expect(
            sessionPUTs(try log(since: start), name).map { $0.headers["Content-Range"] ?? "-" } == [
                "bytes 0-262143/*", "bytes 262144-332143/332144", "bytes */332144", "bytes 262144-332143/332144",
            ])
    }

    /// The first chunk is dropped: GCS answers the status query without a Range (nothing persisted),
    /// so the chunk goes again from byte 0.
    @Test func droppedFirstChunkIsSentAgainFromTheStart() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/dropfirst/a.bin"
        let data = Self.data(300_000, seed: 14)
        let writer = try store.makeWriter(for: name)
        try proxy().add([sessionRule("dropfirst", ["drop_after_bytes": 50_000])])
        try writeAll(writer, data[...])
        _ = try writer.commit()
        #expect(try store.getBytes(name) == data)
        #expect(
            sessionPUTs(try log(since: start), name).map { $0.headers["Content-Range"] ?? "-" } == [
                "bytes 0-262143/*", "bytes */*", "bytes 0-262143/*", "bytes 262144-299999/300000",
            ])
    }

    /// GCS finished the object but its answer to the last chunk was lost: the status query for the
    /// total gets the object resource, which is checked like any other.
    @Test func lostAnswerToTheLastChunkIsRecoveredByTheStatusQuery() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/lostlast/a.bin"
        let data = Self.data(1000, seed: 15)
        let writer = try store.makeWriter(for: name)
        try writer.write(data)
        try proxy().add([sessionRule("lostlast", ["forward_then_status": 502])])
        let stored = try writer.commit()
        #expect(stored.verification == "size, crc32c and md5 checked")
        #expect(try store.getBytes(name) == data)
        let puts = sessionPUTs(try log(since: start), name)
        #expect(puts.map { $0.headers["Content-Range"] ?? "-" } == ["bytes 0-999/1000", "bytes */1000"])
        #expect(puts.map(\.status) == [502, 200])
    }

    @Test func abortCancelsTheSession() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/cancel/a.bin"
        let writer = try store.makeWriter(for: name)
        try writer.write(Self.data(300_000, seed: 16))
        writer.abort()
        writer.abort()
        #expect(try store.stat(name) == nil)
        let deletes = try log(since: start).filter { $0.method == "DELETE" && $0.query.contains("upload_id=") }
        #expect(deletes.map(\.status) == [499], "one cancellation, which GCS answers with 499")
    }

    @Test func serviceUnavailableWithRetryAfterIsRetried() throws {
        let store = try store(retryPolicy: RetryPolicy(attempts: 3, initialDelay: 0.05, maxDelay: 1))
        let start = try proxy().log().count
        let name = prefix + "/busy/a.bin"
        let data = Self.data(300_000, seed: 10)
        let writer = try store.makeWriter(for: name)
        try writeAll(writer, data[..<(256 << 10)])
        try proxy().add([
            sessionRule(
                "busy",
                [
                    "status": 503, "headers": ["Retry-After": "1", "Content-Type": "application/json"],
                    "body":
                        #"{"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}}"#,
                ])
        ])
        let clock = ContinuousClock.now
        try writeAll(writer, data[(256 << 10)...])
        _ = try writer.commit()
        let waited = ContinuousClock.now - clock
        #expect(waited >= .milliseconds(950), "Retry-After: 1 is honoured")
        #expect(try store.getBytes(name) == data)
        let puts = sessionPUTs(try log(since: start), name)
        #expect(puts.map(\.status) == [308, 503, 308, 200])
        #expect(puts.map { $0.headers["Content-Range"] ?? "-" }[2] == "bytes */300000")
    }

    @Test func expiredSessionFailsClearlyWithoutRetries() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/gone/a.bin"
        let writer = try store.makeWriter(for: name)
        try writer.write(Self.data(1000, seed: 11))
        try proxy().add([sessionRule("gone", ["status": 410, "body": "Gone"])])
        #expect {
            _ = try writer.commit()
        } throws: { error in
            let error = try #require(error as? StoreError)
            return error.code == .unavailable && error.message.contains("no longer knows the upload session (HTTP 410)")
                && error.message.contains("gcs store 'offsite'") && error.message.contains(name)
        }
        writer.abort()
        #expect(sessionPUTs(try log(since: start), name).count == 1)
        #expect(try store.stat(name) == nil)
    }

    @Test func checksumMismatchIsAnIntegrityErrorAndLeavesNothing() throws {
        let store = try store()
        let name = prefix + "/corrupt/a.bin"
        let data = Self.data(1000, seed: 12)
        let md5 = Data(MessageDigest.hash(.md5, data)).base64EncodedString()
        let resource =
            #"{"name": "\#(name)", "size": "1000", "crc32c": "AAAAAA==", "md5Hash": "\#(md5)", "generation": "7"}"#
        let writer = try store.makeWriter(for: name)
        try writer.write(data)
        try proxy().add([sessionRule("corrupt", ["status": 200, "body": resource])])
        #expect {
            _ = try writer.commit()
        } throws: { error in
            let error = try #require(error as? StoreError)
            return error.code == .integrity
                && error.message.contains("crc32c AAAAAA==, sent \(CRC32C.checksumBase64(data))")
                && error.message.contains("it was deleted")
        }
        writer.abort()
        #expect(try store.stat(name) == nil)
    }

    // MARK: Tokens

    /// Tokens expire while a chunk is on its way: the session needs no token, so the upload finishes;
    /// the next request is refused with 401, and the store gets a new token and goes on.
    @Test func expiredTokenMidUploadIsRefreshed() throws {
        let store = try store()
        let start = try proxy().log().count
        let name = prefix + "/expire/a.bin"
        let data = Self.data(600_000, seed: 13)
        let writer = try store.makeWriter(for: name)
        try writeAll(writer, data[..<(256 << 10)])
        try proxy().add([sessionRule("expire", ["expire_tokens": true])])
        try writeAll(writer, data[(256 << 10)...])
        _ = try writer.commit()
        #expect(try store.stat(name)?.size == Int64(data.count))
        #expect(try store.getBytes(name) == data)

        let log = try log(since: start)
        #expect(log.contains { $0.fault == "expire_tokens" })
        let stats = log.filter {
            $0.method == "GET" && $0.path.hasSuffix("/o/" + URIEncoding.encode(name)) && !$0.query.contains("alt=media")
        }
        #expect(stats.map(\.status) == [401, 200])
        #expect(log.filter { $0.path == "/token" }.map(\.status) == [200, 200])
    }

    /// Tokens that live 4 seconds are renewed after 2, before the server would refuse them.
    @Test func shortLivedTokensAreRenewedBeforeTheyExpire() throws {
        let proxy = try proxy()
        try proxy.setTokenLifetime(4)
        defer { try? proxy.setTokenLifetime(3600) }
        let store = try store()
        let start = try proxy.log().count
        let name = prefix + "/short/a.bin"
        try store.put(name, bytes: [1, 2, 3])
        usleep(2_500_000)
        #expect(try store.stat(name)?.size == 3)
        usleep(2_500_000)
        #expect(try store.getBytes(name) == [1, 2, 3])
        let log = try log(since: start)
        #expect(log.filter { $0.path == "/token" }.map(\.status) == [200, 200, 200])
        #expect(!log.contains { $0.status == 401 })
    }

    @Test func untrustedKeyIsRefusedClearlyAndNotRetried() throws {
        let file = try servers["GCS_UNTRUSTED_CREDENTIALS_FILE"]
        let store = RetryingStore(try store(credentials: "GCS_UNTRUSTED_CREDENTIALS_FILE"), policy: fast)
        let start = try proxy().log().count
        #expect {
            _ = try store.list(prefix: prefix + "/")
        } throws: { error in
            let error = try #require(error as? StoreError)
            let message = error.message
            return error.code == .unauthorized && message.contains(file)
                && message.contains("untrusted@lifeboat-test.iam.gserviceaccount.com")
                && message.contains("invalid_grant") && message.contains("Invalid JWT Signature")
                && !message.contains("PRIVATE KEY")
        }
        let log = try log(since: start)
        #expect(log.map(\.path) == ["/token"], "one login attempt, no retry, no request to the bucket")
        #expect(log.first?.status == 400)
    }

    @Test func forbiddenIsUnauthorizedWithGCSMessageAndNotRetried() throws {
        let store = RetryingStore(try store(), policy: fast)
        let folder = prefix + "/forbidden/"
        let start = try proxy().log().count
        let message = "lifeboat-backup@lifeboat-test.iam.gserviceaccount.com does not have storage.objects.list access"
        try proxy().add([
            [
                "method": "GET", "path": "/o$", "query": "prefix=" + URIEncoding.encode(folder), "status": 403,
                "headers": ["Content-Type": "application/json"],
                "body": #"{"error": {"code": 403, "message": "\#(message)", "errors": [{"reason": "forbidden"}]}}"#,
            ]
        ])
        #expect {
            _ = try store.list(prefix: folder)
        } throws: { error in
            let error = try #require(error as? StoreError)
            return error.code == .unauthorized && error.message.contains("gcs store 'offsite'")
                && error.message.contains("listing of \(folder) failed: HTTP 403 (forbidden): \(message)")
        }
        #expect(try log(since: start).filter { $0.method == "GET" }.count == 1)
    }

    // MARK: Listing and downloads

    @Test func paginatedListingsAreFollowed() throws {
        let store = try store()
        let folder = prefix + "/page/"
        try store.put(folder + "b.bin", bytes: [1])
        try store.put(folder + "c.bin", bytes: [1, 2])
        let start = try proxy().log().count
        let firstPage = #"{"items": [{"name": "\#(folder)a.bin", "size": "7"}], "nextPageToken": "page-2"}"#
        try proxy().add([
            [
                "method": "GET", "path": "/o$", "query": "prefix=" + URIEncoding.encode(folder), "status": 200,
                "headers": ["Content-Type": "application/json"], "body": firstPage,
            ]
        ])
        let listed = try store.list(prefix: folder)
        #expect(listed.map(\.name) == ["a.bin", "b.bin", "c.bin"].map { folder + $0 })
        #expect(listed.map(\.size) == [7, 1, 2])
        let gets = try log(since: start).filter { $0.method == "GET" }
        #expect(gets.count == 2)
        #expect(gets.last?.query.contains("pageToken=page-2") == true)
    }

    @Test func downloadsAreCheckedAgainstTheServersCRC32C() throws {
        let store = try store()
        let name = prefix + "/download/a.bin"
        try store.put(name, bytes: Array("the real bytes".utf8))
        try proxy().add([
            [
                "method": "GET", "path": "/o/" + URIEncoding.encode(name) + "$", "query": "alt=media", "status": 200,
                "headers": ["X-Goog-Hash": "crc32c=\(CRC32C.checksumBase64(Array("the real bytes".utf8)))"],
                "body": "the wrong bytes",
            ]
        ])
        #expect {
            _ = try store.getBytes(name)
        } throws: { error in
            (error as? StoreError)?.code == .integrity && "\(error)".contains("does not match the crc32c")
        }
        #expect(try store.getBytes(name) == Array("the real bytes".utf8))
    }
}

extension CRC32C {
    static func checksumBase64(_ bytes: [UInt8]) -> String {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.base64
    }
}

/// Service-account files and settings, without servers.
@Suite struct GCSCredentialsTests {
    static let key: String = {
        let directory = NSTemporaryDirectory() + "lifeboat-gcs-key-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try? runTool([
            "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
            directory + "/key.pem",
        ])
        return (try? String(contentsOfFile: directory + "/key.pem", encoding: .utf8)) ?? ""
    }()

    static func account(without: String? = nil, overriding: [String: Any] = [:]) -> [String: Any] {
        var fields: [String: Any] = [
            "type": "service_account", "project_id": "p", "private_key_id": "abc123", "private_key": key,
            "client_email": "backup@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
        ]
        if let without { fields[without] = nil }
        return fields.merging(overriding) { $1 }
    }

    func write(_ fields: [String: Any], mode: Int = 0o600) throws -> String {
        let path = NSTemporaryDirectory() + "lifeboat-sa-" + UUID().uuidString + ".json"
        try JSONSerialization.data(withJSONObject: fields).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
        return path
    }

    @Test func loadsAServiceAccountFile() throws {
        let file = try write(Self.account())
        defer { unlink(file) }
        let account = try GCSServiceAccount.load(file: file)
        #expect(account.clientEmail == "backup@p.iam.gserviceaccount.com")
        #expect(account.privateKeyID == "abc123")
        #expect(account.tokenURI == "https://oauth2.googleapis.com/token")
        #expect(account.description == "service account backup@p.iam.gserviceaccount.com (\(file))")
        let configuration = GCSStoreConfiguration(bucket: "b", credentials: account)
        let store = try GCSStore(name: "offsite", configuration: configuration)
        #expect(store.description == "gcs store 'offsite' (gs://b)")
        for text in ["\(account)", "\(configuration)", "\(store)", String(reflecting: account)] {
            #expect(!text.contains("PRIVATE KEY"), "\(text)")
        }
    }

    @Test(arguments: ["client_email", "private_key", "token_uri"])
    func aMissingFieldIsNamedWithTheFile(_ field: String) throws {
        let file = try write(Self.account(without: field))
        defer { unlink(file) }
        #expect {
            _ = try GCSServiceAccount.load(file: file)
        } throws: { error in
            let message = "\(error)"
            return message.contains(file) && message.contains("the field \"\(field)\" is missing")
                && !message.contains("PRIVATE KEY")
        }
    }

    @Test func unusableFilesAreExplained() throws {
        let damagedKey = String(Self.key.prefix(200))
        let cases: [(fields: [String: Any], mode: Int, says: String)] = [
            (Self.account(overriding: ["type": "authorized_user"]), 0o600, "not \"service_account\""),
            (Self.account(overriding: ["private_key": damagedKey]), 0o600, "\"private_key\" is unusable"),
            (Self.account(overriding: ["token_uri": 42]), 0o600, "\"token_uri\" is not a non-empty string"),
            (Self.account(), 0o644, "readable by group or others"),
        ]
        for (fields, mode, says) in cases {
            let file = try write(fields, mode: mode)
            defer { unlink(file) }
            #expect {
                _ = try GCSServiceAccount.load(file: file)
            } throws: { error in
                let message = "\(error)"
                return message.contains(file) && message.contains(says) && !message.contains(damagedKey.suffix(60))
            }
        }
        #expect(throws: StoreError.self) { _ = try GCSServiceAccount.parse(Array("[1]".utf8), file: "x.json") }
    }

    @Test func settingsAreValidated() throws {
        let account = GCSServiceAccount(
            clientEmail: "a@b", privateKey: Secret(Self.key), tokenURI: "https://oauth2.googleapis.com/token")
        #expect(GCSStoreConfiguration(bucket: "b", credentials: account).problem == nil)
        #expect(GCSStoreConfiguration(bucket: "b", credentials: account, chunkSize: 1 << 20).problem == nil)
        #expect(
            GCSStoreConfiguration(bucket: "b", credentials: account, chunkSize: 300_000).problem?.contains("256 KiB")
                == true)
        let emulator = URL(string: "http://127.0.0.1:9023")!
        #expect(
            GCSStoreConfiguration(bucket: "b", endpoint: emulator, credentials: account).problem?.contains(
                "allow_insecure") == true)
        #expect(
            GCSStoreConfiguration(bucket: "b", endpoint: emulator, credentials: account, allowInsecure: true).problem
                == nil)
        var plainToken = account
        plainToken.tokenURI = "http://127.0.0.1:9024/token"
        #expect(GCSStoreConfiguration(bucket: "b", credentials: plainToken).problem?.contains("token_uri") == true)
    }

    @Test func objectResourcesAndTimesAreRead() throws {
        let body =
            #"{"name": "a/b", "size": "12", "updated": "2026-11-26T02:30:00.123456Z", "crc32c": "x", "generation": 5}"#
        let object = try #require(GCSJSON.object(Array(body.utf8)))
        #expect(
            object
                == GCSJSON.Object(
                    name: "a/b", size: 12, updated: 1_795_660_200, crc32c: "x", md5Hash: nil, generation: "5"))
        #expect(GCSJSON.timestamp("1970-01-01T00:00:01Z") == 1)
        #expect(GCSJSON.timestamp("garbage") == nil)
    }
}
