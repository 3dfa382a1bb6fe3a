import Foundation
import LifeboatCore
import LifeboatCurl
import Testing

@testable import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// The FTP store against the real servers of `packaging/test-servers.sh`: proftpd with explicit TLS
/// (2121, MLSD and HASH), implicit TLS (2990), plain FTP (2125) and a 1 MiB quota (2124); vsftpd
/// with explicit TLS and no MLSD (2122). Every test uses a folder of its own, removed afterwards.
@Suite final class FTPStoreTests {
    let servers: TestServers
    let folder = "ftp-store-" + UUID().uuidString
    private var roots: Set<String> = []

    init() throws {
        servers = try TestServers.load()
    }

    deinit {
        for root in roots { try? FileManager.default.removeItem(atPath: root + "/" + folder) }
    }

    func store(
        name: String = "offsite", portKey: String = "PROFTPD_EXPLICIT_PORT", rootKey: String = "PROFTPD_ROOT",
        tls: FTPStoreConfiguration.TLSMode = .explicit, caFile: String?? = nil, password: Secret? = nil,
        allowInsecure: Bool = false
    ) throws -> FTPStore {
        roots.insert(try servers[rootKey])
        let configuration = FTPStoreConfiguration(
            host: "127.0.0.1", port: try servers.port(portKey), path: folder + "/base", tls: tls,
            username: try servers["FTP_USER"],
            password: try password ?? Secret(servers.contents(ofFileIn: "FTP_PASSWORD_FILE")),
            caFile: try caFile ?? servers["TLS_CA_FILE"], connectTimeout: 10, stallTimeout: 20)
        return try FTPStore(name: name, configuration: configuration, allowInsecure: allowInsecure)
    }

    // MARK: Conformance

    @Test func conformanceOnProftpdWithExplicitTLS() throws {
        try StoreConformance.run(store(), prefix: "conf")
    }

    @Test func conformanceOnVsftpdWithoutMLSD() throws {
        let store = try store(portKey: "VSFTPD_PORT", rootKey: "VSFTPD_ROOT")
        #expect(try store.serverFacts().mlsd == false)
        try StoreConformance.run(store, prefix: "conf")
    }

    @Test func conformanceWithImplicitTLS() throws {
        try StoreConformance.run(store(portKey: "PROFTPD_IMPLICIT_PORT", tls: .implicit), prefix: "conf")
    }

    // MARK: Uploads

    @Test func uploadsAreCheckedBySizeAndByTheServersHashWhereOffered() throws {
        let proftpd = try store().put("a/b.bin", bytes: StoreConformance.bytes(300_000))
        #expect(proftpd.verification == "size via SIZE, sha256 via HASH")
        let vsftpd = try store(portKey: "VSFTPD_PORT", rootKey: "VSFTPD_ROOT").put("a/b.bin", bytes: [1, 2])
        #expect(vsftpd.verification == "size via SIZE")
        var configuration = try store().configuration
        configuration.serverHash = false
        let sizeOnly = try FTPStore(name: "size-only", configuration: configuration).put("c.bin", bytes: [3])
        #expect(sizeOnly.verification == "size via SIZE")
        let file = try servers["PROFTPD_ROOT"] + "/\(folder)/base/a/b.bin"
        #expect(FileManager.default.contents(atPath: file) == Data(StoreConformance.bytes(300_000)))
    }

    @Test func anUploadIsAPartialFileUntilCommitted() throws {
        let store = try store()
        let writer = try store.makeWriter(for: "x/y.bin")
        try writer.write(StoreConformance.bytes(200_000))
        let dir = try servers["PROFTPD_ROOT"] + "/\(folder)/base/x/"
        // The server may still be receiving: wait for the first bytes to land.
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: dir + "y.bin.partial") { usleep(100_000) }
        #expect(FileManager.default.fileExists(atPath: dir + "y.bin.partial"))
        #expect(!FileManager.default.fileExists(atPath: dir + "y.bin"))
        _ = try writer.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["y.bin"])
    }

    @Test func plainFTPNeedsAllowInsecure() throws {
        #expect {
            _ = try self.store(portKey: "PROFTPD_PLAIN_PORT", tls: .none)
        } throws: { error in
            "\(error)".contains("allow_insecure")
        }
        let store = try store(portKey: "PROFTPD_PLAIN_PORT", tls: .none, allowInsecure: true)
        try store.put("plain.bin", bytes: [7, 8, 9])
        #expect(try store.getBytes("plain.bin") == [7, 8, 9])
        #expect(try store.list(prefix: "").map(\.name) == ["plain.bin"])
    }

    @Test func theExplicitTLSPortRefusesPlainFTP() throws {
        let store = try store(tls: .none, allowInsecure: true)
        #expect(throws: StoreError.self) { try store.list(prefix: "") }
    }

    // MARK: Faults

    @Test func aWrongPasswordIsUnauthorizedAndNotShown() throws {
        let store = try store(password: Secret("wrong-Pa55word-xyz"))
        let error = try #require(throws: StoreError.self) { try store.list(prefix: "") }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("ftp store 'offsite'"))
        #expect(error.message.contains("refused the login of 'pbxtest'"))
        #expect(!"\(error)".contains("wrong-Pa55word-xyz"))
        #expect(!error.code.isRetryable)
    }

    @Test func aPrivateCertificateWithoutCAFileIsRefused() throws {
        let store = try store(caFile: .some(nil))
        let error = try #require(throws: StoreError.self) { try store.put("x.bin", bytes: [1]) }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("TLS failed"))
        #expect(error.message.contains("set ca_file"))
        #expect(!error.code.isRetryable)
        // Nothing was written, not even a partial file.
        #expect(!FileManager.default.fileExists(atPath: try servers["PROFTPD_ROOT"] + "/\(folder)"))
    }

    @Test func aClosedPortIsUnavailable() throws {
        let closed = try TestServers.closedPort()
        let configuration = FTPStoreConfiguration(
            host: "127.0.0.1", port: closed, username: "pbxtest", password: Secret("x"), connectTimeout: 5)
        let error = try #require(throws: StoreError.self) {
            try FTPStore(name: "gone", configuration: configuration).list(prefix: "")
        }
        #expect(error.code == .unavailable)
        #expect(error.message.contains("ftp store 'gone' (ftp://127.0.0.1:\(closed)/)"))
    }

    /// The quota server refuses more than 1 MiB. proftpd closes the data connection as it refuses,
    /// so the client sees either the 552 reply or the broken connection first; either way the
    /// upload fails, nothing is left under the final name, and the 552 is named when it was seen.
    @Test func aFullServerRefusesTheUploadAndLeavesNothing() throws {
        let store = try store(portKey: "PROFTPD_QUOTA_PORT", rootKey: "PROFTPD_QUOTA_ROOT")
        let writer = try store.makeWriter(for: "big.bin")
        let chunk = StoreConformance.bytes(256 << 10, seed: 5)
        let error = try #require(throws: StoreError.self) {
            for _ in 0..<8 { try writer.write(chunk) }
            _ = try writer.commit()
        }
        writer.abort()
        #expect(error.message.contains("ftp store 'offsite'"))
        #expect(error.message.contains("upload of big.bin failed"))
        if error.code == .storageFull {
            #expect(error.message.contains("out of space or over quota"))
            #expect(error.message.contains("552"))
        } else {
            #expect(error.code == .unavailable, "\(error)")
        }
        #expect(try store.stat("big.bin") == nil)
        #expect(try store.list(prefix: "").isEmpty)
        _ = try store.removeIncomplete(prefix: "")
        // Space is given back: a small upload works afterwards.
        try store.put("small.bin", bytes: StoreConformance.bytes(1000))
        #expect(try store.list(prefix: "").map(\.name) == ["small.bin"])
    }

    /// The proftpd process serving an upload is killed half-way: the upload fails as retryable,
    /// nothing appears under the final name, and a new store instance removes the `.partial`.
    @Test func aKilledSessionFailsTheUploadAsRetryable() throws {
        let store = try store()
        let writer = try store.makeWriter(for: "run/archive.bin")
        let chunk = StoreConformance.bytes(1 << 20, seed: 3)
        for _ in 0..<4 { try writer.write(chunk) }
        let partial = try servers["PROFTPD_ROOT"] + "/\(folder)/base/run/archive.bin.partial"
        let master = try ServerProcesses.masterPID(pidFile: servers["PROFTPD_PID_FILE"])
        var killed: [pid_t] = []
        for _ in 0..<50 where killed.isEmpty {
            killed = try ServerProcesses.killHolders(of: partial, masterPID: master)
            if killed.isEmpty { usleep(100_000) }
        }
        #expect(!killed.isEmpty)

        let error = try #require(throws: StoreError.self) {
            for _ in 0..<64 { try writer.write(chunk) }
            _ = try writer.commit()
        }
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.contains("upload of run/archive.bin"))

        let fresh = try self.store()
        #expect(try fresh.stat("run/archive.bin") == nil)
        #expect(try fresh.list(prefix: "").isEmpty)
        let removed = try fresh.removeIncomplete(prefix: "run/")
        #expect(removed == [] || removed == ["run/archive.bin.partial"])  // abort may have removed it already
        #expect(!FileManager.default.fileExists(atPath: partial))
        writer.abort()
    }

    @Test func aMissingObjectIsNotFoundAndAMissingFolderListsNothing() throws {
        let store = try store()
        #expect(try store.list(prefix: "nothing/").isEmpty)
        #expect(try store.stat("nothing/x.bin") == nil)
        let error = try #require(throws: StoreError.self) { try store.getBytes("nothing/x.bin") }
        #expect(error.code == .notFound)
    }
}

@Suite struct FTPListingTests {
    @Test func mlsdFacts() {
        let text = """
            type=cdir;modify=20261126023000;perm=flcdmpe; .\r
            type=file;size=123;modify=20261126023000;UNIX.mode=0600; a file.tar.zst.age\r
            type=dir;modify=20261126023000; sub\r
            type=OS.unix=symlink;size=4; link\r

            """
        let entries = FTPListing.parseMLSD(text)
        #expect(entries.map(\.name) == ["a file.tar.zst.age", "sub", "link"])
        #expect(entries[0] == .init(name: "a file.tar.zst.age", kind: .file, size: 123, modified: 1_795_660_200))
        #expect(entries[1].kind == .directory)
        #expect(entries[2].kind == .other)
    }

    @Test func unixListingKeepsNamesWithSpaces() {
        let text = """
            drwxr-xr-x    2 1001     1001         4096 Nov 26 02:30 host one\r
            -rw-------    1 1001     1001     12345678 Nov 26  2025 2026 a.json\r
            lrwxrwxrwx    1 0        0               4 Nov 26 02:30 l -> x\r
            total 12
            """
        let entries = FTPListing.parseLIST(text)
        #expect(entries.map(\.name) == ["host one", "2026 a.json", "l -> x"])
        #expect(entries[0].kind == .directory)
        #expect(entries[1] == .init(name: "2026 a.json", kind: .file, size: 12_345_678, modified: nil))
        #expect(entries[2].kind == .other)
    }

    @Test func pwdReplies() {
        #expect(FTPListing.parsePWD(#"257 "/" is the current directory"#) == "/")
        #expect(FTPListing.parsePWD(#"257 "/home/a ""quoted"" dir" is current"#) == #"/home/a "quoted" dir"#)
        #expect(FTPListing.parsePWD("550 no") == nil)
    }

    @Test func modifyFactIsUTC() {
        #expect(FTPListing.parseModifyFact("19700101000000") == 0)
        #expect(FTPListing.parseModifyFact("20000229235959.123") == 951_868_799)
        #expect(FTPListing.parseModifyFact("2026") == nil)
    }
}

/// A measurement, not an assertion: uploads a file through ``FTPStore`` (explicit TLS) to the test
/// proftpd and prints the throughput; compare with `curl --ssl-reqd -T` of the same file. Build
/// with `swift build -c release --build-tests -Xswiftc -enable-testing`, then run
/// `LIFEBOAT_THROUGHPUT=1 LIFEBOAT_THROUGHPUT_FILE=/path/1GiB.bin swift test -c release --skip-build
/// --filter FTPThroughputCheck` (see `packaging/bench-stores.sh`).
@Suite struct FTPThroughputCheck {
    static let enabled = ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT"] == "1"

    @Test(.enabled(if: enabled))
    func uploadAFile() throws {
        let servers = try TestServers.load()
        let path = try #require(ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT_FILE"])
        let store = try FTPStore(
            name: "bench",
            configuration: FTPStoreConfiguration(
                host: "127.0.0.1", port: try servers.port("PROFTPD_EXPLICIT_PORT"), path: "throughput-check",
                username: try servers["FTP_USER"], password: Secret(try servers.contents(ofFileIn: "FTP_PASSWORD_FILE")),
                caFile: try servers["TLS_CA_FILE"],
                serverHash: ProcessInfo.processInfo.environment["LIFEBOAT_FTP_SERVER_HASH"] != "0"))
        let started = Date()
        let writer = try store.makeWriter(for: "lifeboat.bin")
        let size = try FileSource(path: path).copy(to: writer, chunkSize: 64 << 10)
        let stored = try writer.commit()
        let seconds = Date().timeIntervalSince(started)
        print("FTPStore upload: \(size) bytes in \(seconds) s = \(Double(size) / seconds / 1e6) MB/s (\(stored.verification ?? ""))")
    }
}
