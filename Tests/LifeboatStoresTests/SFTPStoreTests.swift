import Foundation
import LifeboatCore
import LifeboatSSH
import Testing

@testable import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// The SFTP store against the real sshd of `packaging/test-servers.sh` (2222, and 2223 whose
/// sessions cannot write files over 1 MiB). Every test uses a folder of its own under the test
/// user's home, removed afterwards.
@Suite final class SFTPStoreTests {
    let servers: TestServers
    /// This test's folder, relative to the login's home.
    let folder = "sftp-store-" + UUID().uuidString

    init() throws {
        servers = try TestServers.load()
    }

    deinit {
        if let home = try? servers["SSH_HOME"] { try? FileManager.default.removeItem(atPath: home + "/" + folder) }
    }

    /// A store on the main sshd, in this test's folder, logging in with the ed25519 key unless told.
    func store(
        name: String = "offsite", path: String? = nil, authentication: SFTPStoreConfiguration.Authentication? = nil,
        knownHostsKey: String = "SSH_KNOWN_HOSTS", portKey: String = "SSHD_PORT", port: Int? = nil
    ) throws -> SFTPStore {
        SFTPStore(
            name: name,
            configuration: SFTPStoreConfiguration(
                host: "127.0.0.1", port: try port ?? servers.port(portKey), username: try servers["SSH_USER"],
                path: path ?? folder,
                authentication: try authentication ?? .privateKey(path: servers["SSH_KEY_ED25519"], passphrase: nil),
                knownHostsFile: try servers[knownHostsKey], connectTimeout: 10))
    }

    var home: String { get throws { try servers["SSH_HOME"] } }

    // MARK: Conformance

    @Test func conformance() throws {
        try StoreConformance.run(store(), prefix: "conf")
    }

    /// An absolute folder, the password, and a PrefixedStore on top.
    @Test func conformanceWithAnAbsolutePathThePasswordAndAPrefix() throws {
        let password = Secret(try servers.contents(ofFileIn: "SSH_PASSWORD_FILE"))
        let base = try store(path: home + "/" + folder + "/absolute/", authentication: .password(password))
        try StoreConformance.run(PrefixedStore(base, prefix: "site/pbx"), prefix: "conf")
        #expect(try base.list(prefix: "").allSatisfy { $0.name.hasPrefix("site/pbx/conf/") })
        #expect(FileManager.default.fileExists(atPath: try home + "/\(folder)/absolute/site/pbx/conf/over/x.bin"))
    }

    // MARK: Uploads

    @Test func uploadsGoThroughPartialAndLandWithMode0600() throws {
        let store = try store(path: folder + "/deep/er")
        let writer = try store.makeWriter(for: "a/b.bin")
        try writer.write([1, 2, 3])
        let partial = try home + "/\(folder)/deep/er/a/b.bin.partial"
        #expect(FileManager.default.fileExists(atPath: partial), "the folder is made with mkdir -p")
        #expect(!FileManager.default.fileExists(atPath: try home + "/\(folder)/deep/er/a/b.bin"))
        let stored = try writer.commit()
        #expect(
            stored == StoredObject(name: "a/b.bin", size: 3, modified: stored.modified, verification: "size via stat"))
        #expect(stored.modified != nil)
        #expect(!FileManager.default.fileExists(atPath: partial))
        let attributes = try FileManager.default.attributesOfItem(atPath: try home + "/\(folder)/deep/er/a/b.bin")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func overwritingAnExistingObjectReplacesIt() throws {
        let store = try store()
        try store.put("x.bin", bytes: [UInt8](repeating: 9, count: 500_000))
        try store.put("x.bin", bytes: [1, 2, 3, 4])
        #expect(try store.getBytes("x.bin") == [1, 2, 3, 4])
        #expect(try store.list(prefix: "").map(\.name) == ["x.bin"])
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: home + "/\(folder)/x.bin"))) == [1, 2, 3, 4])
    }

    @Test func aMissingObjectIsNotFoundAndAnEmptyStoreListsNothing() throws {
        let store = try store(path: folder + "/never-written")
        #expect(try store.list(prefix: "").isEmpty)
        #expect(try store.stat("nothing.bin") == nil)
        try store.delete("nothing.bin")
        let error = try #require(throws: StoreError.self) { _ = try store.getBytes("nothing.bin") }
        #expect(error.code == .notFound)
        #expect(error.message.contains("sftp store 'offsite'"))
    }

    // MARK: Logins

    @Test(arguments: ["SSH_KEY_ED25519", "SSH_KEY_RSA", "SSH_KEY_ECDSA", "SSH_KEY_ENCRYPTED", "SSH_PASSWORD_FILE"])
    func logsInWith(credential: String) throws {
        let authentication: SFTPStoreConfiguration.Authentication
        switch credential {
        case "SSH_PASSWORD_FILE":
            authentication = .password(Secret(try servers.contents(ofFileIn: credential)))
        case "SSH_KEY_ENCRYPTED":
            let passphrase = Secret(try servers.contents(ofFileIn: "SSH_KEY_PASSPHRASE_FILE"))
            authentication = .privateKey(path: try servers[credential], passphrase: passphrase)
        default:
            authentication = .privateKey(path: try servers[credential], passphrase: nil)
        }
        let store = try store(authentication: authentication)
        try store.put("\(credential).bin", bytes: [7])
        #expect(try store.list(prefix: "").map(\.name) == ["\(credential).bin"])
    }

    @Test func aWrongPasswordIsUnauthorizedAndNotShown() throws {
        let store = try store(authentication: .password(Secret("wrong-password-5a1c")))
        let error = try #require(throws: StoreError.self) { _ = try store.list(prefix: "") }
        #expect(error.code == .unauthorized)
        #expect(!error.code.isRetryable)
        let port = try servers["SSHD_PORT"]
        let user = try servers["SSH_USER"]
        #expect(error.message.hasPrefix("sftp store 'offsite' (\(user)@127.0.0.1:\(port))"))
        #expect(!"\(error)".contains("wrong-password-5a1c"))
        #expect(!"\(store)".contains("wrong-password-5a1c"))
    }

    @Test func aKeyTheServerDoesNotAcceptIsUnauthorized() throws {
        let store = try store(authentication: .privateKey(path: servers["SSH_KEY_UNAUTHORIZED"], passphrase: nil))
        let error = try #require(throws: StoreError.self) { _ = try store.makeWriter(for: "x.bin") }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("refused the login"))
    }

    // MARK: Host keys

    @Test(arguments: ["SSH_KNOWN_HOSTS_EMPTY", "SSH_KNOWN_HOSTS_CHANGED"])
    func unknownAndChangedHostKeysAreRefused(knownHostsKey: String) throws {
        let store = try store(knownHostsKey: knownHostsKey)
        let error = try #require(throws: StoreError.self) { try store.put("x.bin", bytes: [1]) }
        #expect(error.code == .unauthorized)
        let port = try servers["SSHD_PORT"]
        #expect(error.message.contains("host key of 127.0.0.1:\(port)"))
        #expect(error.message.contains("SHA256:"))
        // libssh may negotiate any of the server's host keys: the message must show one of them,
        // as `ssh-keygen -lf` prints it.
        let fingerprints = try Self.hostKeyFingerprints(servers)
        #expect(fingerprints.count == 3)
        #expect(fingerprints.contains { error.message.contains($0) }, "\(error.message) vs \(fingerprints)")
        #expect(!FileManager.default.fileExists(atPath: try home + "/\(folder)/x.bin"))
    }

    // MARK: Failures

    @Test func aClosedPortIsUnavailable() throws {
        let closed = try TestServers.closedPort()
        let store = try store(port: closed)
        let error = try #require(throws: StoreError.self) { _ = try store.stat("x.bin") }
        #expect(error.code == .unavailable)
        #expect(error.code.isRetryable)
        #expect(error.message.contains("127.0.0.1:\(closed)"))
    }

    /// The quota server's sessions cannot write files over 1 MiB: the upload fails with a clear
    /// message and, once aborted, leaves nothing behind.
    @Test func aFullServerRefusesTheUploadAndLeavesNothing() throws {
        let store = try store(portKey: "SSHD_QUOTA_PORT")
        let writer = try store.makeWriter(for: "big.bin")
        let chunk = StoreConformance.bytes(256 << 10, seed: 5)
        let error = try #require(throws: StoreError.self) {
            for _ in 0..<8 { try writer.write(chunk) }  // 2 MiB
            _ = try writer.commit()
        }
        #expect(error.code == .storageFull)
        #expect(error.message.contains("the server refused the write (disk full or quota?)"))
        #expect(error.message.contains("sftp store 'offsite'"))
        writer.abort()
        writer.abort()
        #expect(try store.stat("big.bin") == nil)
        #expect(try store.list(prefix: "").isEmpty)
        #expect(try store.removeIncomplete(prefix: "").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: home + "/" + folder).isEmpty)
    }

    /// The sshd process serving an upload is killed half-way: the upload fails as retryable,
    /// nothing appears under the final name, and a new store instance cleans up the `.partial`.
    @Test func aKilledSessionFailsTheUploadAsRetryable() throws {
        let store = try store()
        let writer = try store.makeWriter(for: "run/archive.bin")
        let chunk = StoreConformance.bytes(1 << 20, seed: 3)
        for _ in 0..<4 { try writer.write(chunk) }

        let session = try #require((writer as? SFTPObjectWriter)?.session)
        let clientPort = try #require(session.localPort)
        let killed = try Self.killServerSide(
            clientPort: clientPort, serverPort: servers.port("SSHD_PORT"), masterPID: Self.masterPID(servers))
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
        #expect(try fresh.removeIncomplete(prefix: "run/") == ["run/archive.bin.partial"])
        #expect(try fresh.removeIncomplete(prefix: "").isEmpty)
        writer.abort()
    }

    /// The shared session of a store survives the server dropping it: the next call reconnects.
    @Test func theSharedSessionIsReopenedAfterTheServerDropsIt() throws {
        let store = try store()
        try store.put("a.bin", bytes: [1])
        #expect(try store.stat("a.bin")?.size == 1)
        // Kill the store's shared session from the server side.
        let clientPort = try #require(store.shared?.session.localPort)
        let killed = try Self.killServerSide(
            clientPort: clientPort, serverPort: servers.port("SSHD_PORT"), masterPID: Self.masterPID(servers))
        #expect(!killed.isEmpty)
        usleep(200_000)
        #expect(try store.stat("a.bin")?.size == 1)
    }

    // MARK: Helpers

    /// The SHA-256 fingerprints of the server's host keys, by `ssh-keygen -lf`.
    static func hostKeyFingerprints(_ servers: TestServers) throws -> [String] {
        let ed25519 = try servers["SSH_HOST_KEY_ED25519_PUB"]
        return try ["ed25519", "rsa", "ecdsa"].compactMap { type in
            let file = ed25519.replacingOccurrences(of: "ssh_host_ed25519_key", with: "ssh_host_\(type)_key")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
            process.arguments = ["-lf", file]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            // "256 SHA256:abc… comment (ED25519)"
            return output.split(separator: " ").dropFirst().first.map(String.init)
        }
    }

    static func masterPID(_ servers: TestServers) throws -> pid_t {
        try ServerProcesses.masterPID(pidFile: servers["SSHD_PID_FILE"])
    }

    /// SIGKILLs the sshd processes serving the connection from `clientPort`: those below the sshd
    /// master that hold the server end of that TCP connection. Returns their pids.
    static func killServerSide(clientPort: Int, serverPort: Int, masterPID: pid_t) throws -> [pid_t] {
        // /proc/net/tcp: "sl local_address rem_address st … uid timeout inode", addresses as HEXIP:HEXPORT.
        // Read to the end: procfs files report size 0, and String(contentsOfFile:) stops after one page.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/net/tcp"))
        let table = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        handle.closeFile()
        var inode: String?
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 9 else { continue }
            let localPort = Int(fields[1].split(separator: ":").last ?? "", radix: 16)
            let remotePort = Int(fields[2].split(separator: ":").last ?? "", radix: 16)
            if localPort == serverPort && remotePort == clientPort { inode = String(fields[9]) }
        }
        let socket = "socket:[\(try #require(inode, "no server end for client port \(clientPort)"))]"
        var killed: [pid_t] = []
        for pid in try ServerProcesses.descendants(of: masterPID) {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let holds = fds.contains {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == socket
            }
            if holds {
                kill(pid, SIGKILL)
                killed.append(pid)
            }
        }
        return killed
    }
}

/// A measurement, not an assertion: uploads (and downloads) a file through ``SFTPStore`` to the
/// test sshd and prints the throughput. Build in release mode and run one test at a time:
/// `swift build -c release --build-tests -Xswiftc -enable-testing`, then
/// `LIFEBOAT_THROUGHPUT=1 LIFEBOAT_THROUGHPUT_FILE=/path/1GiB.bin swift test -c release --skip-build
/// --filter SFTPThroughputCheck/uploadAFile` (or `/downloadAFile`), and compare with OpenSSH's
/// `sftp -b` putting the same file to the same server.
/// `LIFEBOAT_SFTP_CIPHERS=aes128-gcm@openssh.com,…` changes the ciphers offered.
@Suite struct SFTPThroughputCheck {
    static let enabled = ProcessInfo.processInfo.environment["LIFEBOAT_THROUGHPUT"] == "1"

    @Test(.enabled(if: enabled))
    func uploadAFile() throws {
        let (store, path) = try Self.setUp()
        let seconds = try Self.time { try Self.upload(path, to: store) }
        let bytes = try #require(try store.stat("upload.bin")).size
        print("sftp store upload: \(bytes >> 20) MiB in \(seconds) s = \(Int(Double(bytes) / seconds / 1e6)) MB/s")
        try store.delete("upload.bin")
    }

    @Test(.enabled(if: enabled))
    func downloadAFile() throws {
        let (store, path) = try Self.setUp()
        try Self.upload(path, to: store)
        final class Discard: ByteSink {
            var count: Int64 = 0
            func write(_ bytes: UnsafeRawBufferPointer) throws { count += Int64(bytes.count) }
        }
        let discard = Discard()
        let seconds = try Self.time { try store.get("upload.bin", into: discard) }
        let bytes = discard.count
        print("sftp store download: \(bytes >> 20) MiB in \(seconds) s = \(Int(Double(bytes) / seconds / 1e6)) MB/s")
        try store.delete("upload.bin")
    }

    static func setUp() throws -> (SFTPStore, String) {
        let environment = ProcessInfo.processInfo.environment
        let servers = try TestServers.load()
        let path = try #require(environment["LIFEBOAT_THROUGHPUT_FILE"], "set LIFEBOAT_THROUGHPUT_FILE to a large file")
        let store = SFTPStore(
            name: "throughput",
            configuration: SFTPStoreConfiguration(
                host: "127.0.0.1", port: try servers.port("SSHD_PORT"), username: try servers["SSH_USER"],
                path: "throughput-check",
                authentication: .privateKey(path: try servers["SSH_KEY_ED25519"], passphrase: nil),
                knownHostsFile: try servers["SSH_KNOWN_HOSTS"],
                ciphers: environment["LIFEBOAT_SFTP_CIPHERS"].map { $0.split(separator: ",").map(String.init) }))
        return (store, path)
    }

    /// Streams the file in 1 MiB pieces, as the backup pipeline hands them over.
    static func upload(_ path: String, to store: SFTPStore) throws {
        let source = try FileSource(path: path)
        let writer = try store.makeWriter(for: "upload.bin")
        try source.copy(to: writer, chunkSize: 1 << 20)
        _ = try writer.commit()
    }

    static func time(_ body: () throws -> Void) rethrows -> Double {
        let started = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
