import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@testable import LifeboatStores

/// The SharePoint store against the Microsoft Graph test server (`packaging/test-servers/graph_server.py`),
/// one server per test: it checks the token requests, the fragment rules of upload sessions, that the
/// bearer token never reaches a pre-authenticated URL, and computes QuickXorHash on its own.
@Suite final class SharePointStoreTests {
    let server: GraphTestServer
    let spool: TemporaryDirectory
    let fast = RetryPolicy(attempts: 4, initialDelay: 0.05, maxDelay: 0.2)
    static let unit = SharePointStoreConfiguration.fragmentGranularity

    init() throws {
        server = try GraphTestServer()
        spool = try TemporaryDirectory()
    }

    func store(
        on server: GraphTestServer? = nil, clientID: String = GraphTestServer.clientID,
        credential: SharePointStoreConfiguration.Credential = .secret(Secret(GraphTestServer.clientSecret)),
        site: String = GraphTestServer.site, driveName: String? = nil, folder: String = "PBX Backups",
        chunkSize: Int = 3 * unit, retryPolicy: RetryPolicy? = nil, refreshMargin: Double = 300
    ) throws -> SharePointStore {
        let server = server ?? self.server
        let configuration = SharePointStoreConfiguration(
            tenantID: GraphTestServer.tenant, clientID: clientID, credential: credential, site: site,
            driveName: driveName, folder: folder, chunkSize: chunkSize, graphURL: URL(string: server.graphURL)!,
            loginURL: URL(string: server.baseURL)!, caFile: server.caFile, spoolDirectory: spool.path,
            connectTimeout: 10, stallTimeout: 20, retryPolicy: retryPolicy ?? fast)
        return try SharePointStore(name: "sp", configuration: configuration, tokenRefreshMargin: refreshMargin)
    }

    static func data(_ count: Int, seed: UInt8) -> [UInt8] { StoreConformance.bytes(count, seed: seed) }


    /// The Content-Range of each fragment of an upload of `total` bytes in fragments of `chunk`.
    static func ranges(total: Int, chunk: Int, from start: Int = 0) -> [String] {
        stride(from: start, to: total, by: chunk).map { "bytes \($0)-\(min($0 + chunk, total) - 1)/\(total)" }
    }

    func fragments(_ log: [GraphTestServer.LoggedRequest]) -> [GraphTestServer.LoggedRequest] {
        log.filter { $0.kind == "fragment" }
    }

    /// The bearer token went to Graph requests only, never to an upload or download URL.
    func expectTokenOnlyToGraph(_ log: [GraphTestServer.LoggedRequest]) {
        let preAuthenticated = log.filter {
            ["fragment", "session_status", "session_cancel", "download"].contains($0.kind)
        }
        #expect(preAuthenticated.allSatisfy { !$0.authorization }, "bearer sent to a pre-authenticated URL")
        #expect(log.filter { $0.kind == "graph" }.allSatisfy { $0.authorization })
    }

    /// The spool files (and records) left in the spool folder.
    func spoolFiles() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: spool.path)
        var files: [String] = []
        while let name = enumerator?.nextObject() as? String {
            if name.hasSuffix(".spool") || name.hasSuffix(".json") { files.append(name) }
        }
        return files
    }

    /// Runs a tool to its end; its output through a file (no pipe to fill up).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, output: String
    ) {
        let folder = try TemporaryDirectory()
        let outputPath = folder.path + "/output"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try output.close()
        return (process.terminationStatus, try String(contentsOfFile: outputPath, encoding: .utf8))
    }

    // MARK: Conformance and uploads

    @Test func conformance() throws {
        try StoreConformance.run(store(), prefix: "conf", interruptedUploadsLeaveTraces: false)
        expectTokenOnlyToGraph(try server.log())
        #expect(try server.openSessions() == 0)
        #expect(spoolFiles().isEmpty)
    }

    @Test func conformanceWithACertificateAndSmallPages() throws {
        let paging = try GraphTestServer(pageSize: 2)
        let certificate = try GraphTestServer.certificate()
        let store = try store(
            on: paging, credential: .certificate(certificateFile: certificate.certificate, keyFile: certificate.key),
            folder: "Backups/PBX")
        try StoreConformance.run(store, prefix: "conf", interruptedUploadsLeaveTraces: false)
        let log = try paging.log()
        #expect(log.filter { $0.kind == "token" }.allSatisfy { $0.status == 200 })
        #expect(log.contains { $0.kind == "graph" && $0.query.contains("skiptoken") }, "no listing went past page 1")
    }

    @Test func aSmallObjectIsOneSimplePutCheckedByQuickXorHash() throws {
        let store = try store()
        let data = Self.data(1 << 20, seed: 3)
        let stored = try store.put("pbx1/nightly/one.json", bytes: data)
        #expect(stored.verification == "quickXorHash and size checked")
        let log = try server.log()
        #expect(fragments(log).isEmpty)
        let puts = log.filter { $0.kind == "graph" && $0.method == "PUT" }
        #expect(puts.count == 1)
        #expect(puts.first?.path.hasSuffix("/root:/PBX%20Backups/pbx1/nightly/one.json:/content") == true)
        #expect(puts.first?.query == "@microsoft.graph.conflictBehavior=replace")
        let item = try #require(try server.items().first { $0.path == "PBX Backups/pbx1/nightly/one.json" })
        #expect(item.quickXorHash == QuickXorHash.base64(of: data))
        #expect(
            try server.items().filter(\.folder).map(\.path) == [
                "PBX Backups", "PBX Backups/pbx1", "PBX Backups/pbx1/nightly",
            ])
        #expect(try store.getBytes("pbx1/nightly/one.json") == data)
    }

    @Test func aLargeObjectGoesUpInOrderedFragmentsWithoutTheToken() throws {
        let store = try store(chunkSize: 3 * Self.unit)
        let data = Self.data((5 << 20) + 1000, seed: 4)
        let stored = try StoreConformance.upload(store, "big/x.tar.zst.age", data)
        #expect(stored.size == Int64(data.count))
        #expect(stored.verification == "6 fragments, quickXorHash and size checked")
        let log = try server.log()
        #expect(fragments(log).map { $0.contentRange ?? "-" } == Self.ranges(total: data.count, chunk: 3 * Self.unit))
        #expect(fragments(log).allSatisfy { $0.status == 202 || $0.status == 201 })
        let session = log.filter { $0.path.hasSuffix(":/createUploadSession") }
        #expect(session.count == 1)
        expectTokenOnlyToGraph(log)
        #expect(try store.getBytes("big/x.tar.zst.age", limit: 8 << 20) == data)
        #expect(try server.openSessions() == 0)
        #expect(spoolFiles().isEmpty)
    }

    @Test func aLargeObjectReplacesAnotherOfTheSameName() throws {
        let store = try store()
        try StoreConformance.upload(store, "r/x.age", Self.data((4 << 20) + 10, seed: 5))
        let second = Self.data((6 << 20) + 3, seed: 6)
        try StoreConformance.upload(store, "r/x.age", second)
        #expect(try store.getBytes("r/x.age", limit: 8 << 20) == second)
        #expect(try store.list(prefix: "r/").map(\.name) == ["r/x.age"])
    }

    @Test func theQuickXorHashAgreesWithTheServerAndRclone() throws {
        let store = try store()
        let folder = try TemporaryDirectory()
        var expected: [String: String] = [:]
        for (index, size) in [0, 1, 20, 161, 4 << 20, (4 << 20) + 1, (5 << 20) + 7].enumerated() {
            let data = (0..<size).map { _ in UInt8.random(in: 0...255) }
            let name = "q/file-\(index).bin"
            try StoreConformance.upload(store, name, data)
            try Data(data).write(to: URL(fileURLWithPath: folder.path + "/file-\(index).bin"))
            expected["PBX Backups/" + name] = QuickXorHash.base64(of: data)
        }
        let reported = Dictionary(
            uniqueKeysWithValues: try server.items().filter { !$0.folder }.map { ($0.path, $0.quickXorHash ?? "-") })
        #expect(reported == expected)
        let rclone = try Self.run(
            ["rclone", "hashsum", "quickxor", folder.path], environment: ["RCLONE_CONFIG": "/dev/null"])
        try #require(rclone.status == 0, "\(rclone.output)")
        var checked = 0
        for line in rclone.output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, let digest = Hex.decode(String(fields[0])) else { continue }
            #expect(expected["PBX Backups/q/" + fields[1]] == Data(digest).base64EncodedString(), "\(fields[1])")
            checked += 1
        }
        #expect(checked == expected.count)
    }

    // MARK: Faults during an upload

    @Test func aFragmentAnswered503WithRetryAfterIsSentAgainAfterTheWait() throws {
        let store = try store(
            chunkSize: 2 * Self.unit, retryPolicy: RetryPolicy(attempts: 4, initialDelay: 0.05, maxDelay: 0.5))
        try server.addFaults([["kind": "fragment", "skip": 1, "status": 503, "retry_after": 1]])
        let data = Self.data((5 << 20) + 5000, seed: 7)
        try StoreConformance.upload(store, "slow/x.age", data)
        #expect(try store.getBytes("slow/x.age", limit: 8 << 20) == data)
        let log = try server.log()
        let ranges = Self.ranges(total: data.count, chunk: 2 * Self.unit)
        let sent = fragments(log)
        #expect(sent.map { $0.contentRange ?? "-" } == [ranges[0], ranges[1]] + ranges[1...])
        #expect(sent[1].status == 503)
        let resent = try #require(sent.dropFirst(2).first)
        #expect(resent.time - sent[1].time >= 0.95, "Retry-After: 1 was not honoured")
        #expect(log.filter { $0.kind == "session_status" }.count == 1)
        expectTokenOnlyToGraph(log)
    }

    @Test func aThrottledGraphRequestIsTriedAgainAfterRetryAfter() throws {
        let store = try store(retryPolicy: RetryPolicy(attempts: 4, initialDelay: 0.05, maxDelay: 0.5))
        try server.addFaults([
            ["kind": "graph", "method": "POST", "path": "createUploadSession", "status": 429, "retry_after": 1],
            ["kind": "graph", "method": "GET", "path": "children", "status": 503, "retry_after": 0, "times": 2],
        ])
        try StoreConformance.upload(store, "t/x.age", Self.data((4 << 20) + 1, seed: 8))
        let log = try server.log()
        let creations = log.filter { $0.path.hasSuffix(":/createUploadSession") }
        #expect(creations.map(\.status) == [429, 200])
        #expect(creations[1].time - creations[0].time >= 0.95)
        #expect(try RetryingStore(store, policy: fast).list(prefix: "t/").map(\.name) == ["t/x.age"])
    }

    /// The connection drops 100 000 bytes into the third fragment: Graph ignores a fragment cut short,
    /// so the writer asks the session where to resume and sends that fragment again, and nothing before it.
    @Test func aConnectionDroppedMidFragmentResumesFromNextExpectedRanges() throws {
        let store = try store(chunkSize: 2 * Self.unit)
        try server.addFaults([["kind": "fragment", "skip": 2, "drop_after_bytes": 100_000]])
        let data = Self.data((5 << 20) + 5000, seed: 9)
        try StoreConformance.upload(store, "drop/x.age", data)
        #expect(try store.getBytes("drop/x.age", limit: 8 << 20) == data)
        let log = try server.log()
        let ranges = Self.ranges(total: data.count, chunk: 2 * Self.unit)
        let sent = fragments(log)
        #expect(sent.map { $0.contentRange ?? "-" } == Array(ranges[0...2]) + ranges[2...])
        #expect(sent[2].status == nil && sent[2].fault == "drop_after_bytes")
        // Each earlier fragment went up once.
        for range in ranges[0..<2] { #expect(sent.filter { $0.contentRange == range }.count == 1) }
        let status = log.filter { $0.kind == "session_status" }
        #expect(status.count == 1 && status.first?.status == 200)
        expectTokenOnlyToGraph(log)
    }

    /// Tokens expire before the session is opened and again between fragments: the session request
    /// gets a 401 and is sent once more with a new token; fragments need no token; the next Graph
    /// request after the upload refreshes again.
    @Test func tokensExpiringMidUploadAreRefreshedOnce() throws {
        let store = try store(chunkSize: 2 * Self.unit)
        let writer = try store.makeWriter(for: "tok/x.age")
        let data = Self.data((5 << 20) + 77, seed: 10)
        try writer.write(data)
        try server.expireTokens()
        try server.addFaults([["kind": "fragment", "skip": 3, "expire_tokens": true]])
        let stored = try writer.commit()
        #expect(stored.size == Int64(data.count))
        #expect(try store.stat("tok/x.age")?.size == Int64(data.count))
        let log = try server.log()
        #expect(log.filter { $0.kind == "token" }.count == 3)
        let refused = log.filter { $0.status == 401 }
        #expect(refused.count == 2)
        #expect(refused.allSatisfy { $0.kind == "graph" })
        #expect(fragments(log).allSatisfy { $0.status == 202 || $0.status == 201 })
        expectTokenOnlyToGraph(log)
    }

    @Test func aShortLivedTokenIsRenewedBeforeItExpires() throws {
        let shortLived = try GraphTestServer(tokenLifetime: 4)
        let store = try store(on: shortLived)
        _ = try store.list(prefix: "")
        usleep(2_500_000)  // past half the lifetime
        _ = try store.list(prefix: "")
        let log = try shortLived.log()
        #expect(log.filter { $0.kind == "token" }.count == 2)
        #expect(!log.contains { $0.status == 401 })
    }

    @Test func anExpiredSessionStartsOver() throws {
        let store = try store(chunkSize: 2 * Self.unit)
        try server.addFaults([["kind": "fragment", "skip": 2, "expire_session": true]])
        let data = Self.data((5 << 20) + 11, seed: 11)
        try StoreConformance.upload(store, "exp/x.age", data)
        #expect(try store.getBytes("exp/x.age", limit: 8 << 20) == data)
        let log = try server.log()
        #expect(log.filter { $0.path.hasSuffix(":/createUploadSession") }.count == 2)
        let ranges = Self.ranges(total: data.count, chunk: 2 * Self.unit)
        let sent = fragments(log)
        #expect(sent.map { $0.contentRange ?? "-" } == Array(ranges[0...2]) + ranges)
        #expect(sent[2].status == 404)
        #expect(try server.openSessions() == 0)
    }

    @Test func aSessionThatKeepsExpiringIsGivenUpAndLeavesNothing() throws {
        let store = try store(chunkSize: 2 * Self.unit)
        try server.addFaults([["kind": "fragment", "skip": 1, "expire_session": true, "times": 100]])
        let error = try #require(throws: StoreError.self) {
            try StoreConformance.upload(store, "gone/x.age", Self.data((5 << 20) + 11, seed: 12))
        }
        #expect(error.code == .unavailable)
        #expect(error.message.contains("forgot the upload session"))
        #expect(try server.items().filter { !$0.folder }.isEmpty)
        #expect(spoolFiles().isEmpty)
    }

    @Test func aQuickXorHashMismatchFailsTheUploadAndDeletesTheFile() throws {
        let store = try store()
        try server.addFaults([["kind": "fragment", "corrupt_hash": true, "times": 100]])
        let error = try #require(throws: StoreError.self) {
            try StoreConformance.upload(store, "bad/x.age", Self.data((5 << 20) + 1, seed: 13))
        }
        #expect(error.code == .integrity)
        #expect(error.message.contains("quickXorHash") && error.message.contains("it was deleted"), "\(error)")
        #expect(try store.stat("bad/x.age") == nil)
        #expect(try server.items().filter { !$0.folder }.isEmpty)

        // A simple upload whose stored bytes differ from those sent.
        try server.addFaults([["kind": "graph", "method": "PUT", "corrupt_content": true]])
        let small = try #require(throws: StoreError.self) {
            try store.put("bad/y.json", bytes: Self.data(1000, seed: 14))
        }
        #expect(small.code == .integrity)
        #expect(try store.stat("bad/y.json") == nil)
    }

    // MARK: Faults of configuration and permissions

    @Test func aWrongClientSecretIsAClearErrorAndNotRetried() throws {
        let store = RetryingStore(try store(credential: .secret(Secret("not-the-secret"))), policy: fast)
        let error = try #require(throws: StoreError.self) { try store.put("x.json", bytes: [1]) }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("AADSTS7000215") && error.message.contains("client_secret"), "\(error)")
        #expect(!error.message.contains("not-the-secret"))
        let log = try server.log()
        #expect(log.filter { $0.kind == "token" }.count == 1)
        #expect(!log.contains { $0.kind == "graph" })
    }

    @Test func anUnregisteredCertificateIsAClearError() throws {
        let stranger = try GraphTestServer.unregisteredCertificate()
        let store = RetryingStore(
            try store(credential: .certificate(certificateFile: stranger.certificate, keyFile: stranger.key)),
            policy: fast)
        let error = try #require(throws: StoreError.self) { _ = try store.list(prefix: "") }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("AADSTS700027") && error.message.contains(stranger.certificate), "\(error)")
        #expect(try server.log().filter { $0.kind == "token" }.count == 1)
    }

    @Test func aMissingSiteIsAClearErrorAndNotRetried() throws {
        let store = RetryingStore(try store(site: "contoso.sharepoint.com:/sites/nope"), policy: fast)
        let error = try #require(throws: StoreError.self) { _ = try store.makeWriter(for: "x.age") }
        #expect(error.code == .notFound)
        #expect(error.message.contains("the site contoso.sharepoint.com:/sites/nope does not exist"), "\(error)")
        #expect(error.message.contains("itemNotFound"))
        #expect(try server.log().filter { $0.kind == "graph" }.count == 1)

        try server.removeSite()
        let removed = try #require(throws: StoreError.self) { _ = try self.store().list(prefix: "") }
        #expect(removed.code == .notFound && removed.message.contains("does not exist"))
    }

    @Test func aMissingLibraryIsNamed() throws {
        #expect(try store(driveName: "Archive").put("a.json", bytes: [1]).size == 1)
        #expect(try server.items().first { !$0.folder }?.drive == "Archive")
        let error = try #require(throws: StoreError.self) { _ = try self.store(driveName: "Nope").list(prefix: "") }
        #expect(error.code == .notFound)
        #expect(error.message.contains("no document library named 'Nope' (it has: Documents, Archive)"), "\(error)")
    }

    @Test func aMissingPermissionIsNamedAndNotRetried() throws {
        let store = RetryingStore(
            try store(
                clientID: GraphTestServer.readOnlyClientID, credential: .secret(Secret(GraphTestServer.readOnlySecret))),
            policy: fast)
        #expect(try store.list(prefix: "").isEmpty)
        let error = try #require(throws: StoreError.self) { try store.put("x.json", bytes: [1]) }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("403") && error.message.contains("Sites.ReadWrite.All"), "\(error)")
        #expect(try server.log().filter { $0.status == 403 }.count == 1)
    }

    @Test func namesSharePointRefusesAreInvalid() throws {
        let store = try store()
        for bad in ["a:b.age", "x/trailing./y.age", "x/ lead.age", "q?.json", "a/b|c"] {
            let error = try #require(throws: StoreError.self, "\(bad)") { _ = try store.makeWriter(for: bad) }
            #expect(error.code == .invalidName)
        }
        for good in ["with space+plus.bin", "zürich/ä€😀.age", "a=b&c;d,e(f)#1%.bin"] {
            try store.put(good, bytes: [1, 2, 3])
            #expect(try store.getBytes(good) == [1, 2, 3])
            #expect(try store.list(prefix: "").map(\.name).contains(good))
            try store.delete(good)
            #expect(try store.stat(good) == nil)
        }
    }

    // MARK: Listing, downloads, cleanup

    @Test func listingFollowsNextLinks() throws {
        let paging = try GraphTestServer(pageSize: 3)
        let store = try store(on: paging)
        let names = (0..<10).map { String(format: "many/%02d.json", $0) }.shuffled()
        for name in names { try store.put(name, bytes: [1]) }
        try store.put("many/sub/deep.json", bytes: [2])
        #expect(try store.list(prefix: "many/").map(\.name) == names.sorted() + ["many/sub/deep.json"])
        let pages = try paging.log().filter {
            $0.kind == "graph" && $0.path.hasSuffix("children") && $0.method == "GET"
        }
        #expect(pages.filter { $0.query.contains("skiptoken") }.count >= 3)
    }

    @Test func aDownloadFollowsTheRedirectWithoutTheToken() throws {
        let store = try store()
        try store.put("d/x.json", bytes: [1, 2, 3])
        let before = try server.log().count
        #expect(try store.getBytes("d/x.json") == [1, 2, 3])
        let log = Array(try server.log().dropFirst(before))
        #expect(log.map(\.kind) == ["graph", "download"])
        #expect(log.map(\.status) == [302, 200])
        #expect(log.map(\.authorization) == [true, false])
    }

    /// A process killed mid-upload leaves its spool file and its open session: the next run's
    /// cleanup cancels the session and removes the file.
    @Test func removeIncompleteCancelsTheSessionOfAKilledUpload() throws {
        let store = try store()
        try server.addFaults([["kind": "fragment", "skip": 1, "status": 500, "times": 100]])
        var writer: (any ObjectWriter)? = try store.makeWriter(for: "crash/x.age")
        try writer!.write(Self.data(5 << 20, seed: 15))
        #expect(throws: StoreError.self) { _ = try writer!.commit() }
        let leftover = Unmanaged.passRetained(writer! as AnyObject)  // never aborted: the process died
        writer = nil
        #expect(try server.openSessions() == 1)
        #expect(spoolFiles().count == 2)

        let nextRun = try self.store()
        #expect(try nextRun.removeIncomplete(prefix: "other/").isEmpty)
        #expect(try nextRun.removeIncomplete(prefix: "crash/") == ["crash/x.age"])
        #expect(try server.openSessions() == 0)
        #expect(spoolFiles().isEmpty)
        #expect(try nextRun.removeIncomplete(prefix: "crash/").isEmpty)
        #expect(try server.log().contains { $0.kind == "session_cancel" && !$0.authorization })
        leftover.release()
    }

    @Test func aBadConfigurationIsRefusedBeforeAnyRequest() throws {
        for (chunkSize, site) in [(1 << 20, GraphTestServer.site), (3 * Self.unit, "contoso.sharepoint.com/sites/it")] {
            #expect(throws: StoreError.self) { _ = try self.store(site: site, chunkSize: chunkSize) }
        }
        #expect(throws: StoreError.self) { _ = try self.store(chunkSize: 61 << 20 / Self.unit * Self.unit) }
        #expect(try server.log().isEmpty)
    }
}
