import Foundation
import LifeboatCore
import Testing

@testable import LifeboatSSH

/// SFTP requests against the real sshd of `packaging/test-servers.sh`. Every test works in a
/// folder of its own under the test user's home.
@Suite final class SFTPClientTests {
    let servers: TestServers
    let client: SFTPClient
    /// This test's folder, relative to the login's home.
    let folder = "sftp-client-" + UUID().uuidString

    init() throws {
        servers = try TestServers.load()
        client = try SFTPClient(configuration: SSHTestSupport.configuration(servers))
    }

    deinit {
        if let home = try? servers["SSH_HOME"] { try? FileManager.default.removeItem(atPath: home + "/" + folder) }
    }

    static func pattern(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 11) }
    }

    @Test func writesAndReadsBackInPiecesLargerThanOneRequest() throws {
        try client.makeDirectories(folder + "/a/b")
        let data = Self.pattern((1 << 20) + 12_345)
        let file = try client.create(folder + "/a/b/x.bin")
        try file.write(data)
        #expect(file.bytesWritten == Int64(data.count))
        #expect(try file.stat().size == Int64(data.count))
        try file.close()
        try file.close()  // a second close is a no-op

        let sink = MemorySink()
        #expect(try client.download(folder + "/a/b/x.bin", into: sink) == Int64(data.count))
        #expect(sink.bytes == data)
        let onDisk = try servers["SSH_HOME"] + "/\(folder)/a/b/x.bin"
        let attributes = try FileManager.default.attributesOfItem(atPath: onDisk)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func statListAndRemove() throws {
        try client.makeDirectories(folder + "/d/e")
        try client.makeDirectories(folder + "/d/e")  // existing folders are fine
        for name in ["one", "two"] {
            let file = try client.create("\(folder)/d/\(name)")
            try file.write([1, 2, 3])
            try file.close()
        }
        let entries = try client.listDirectory(folder + "/d").sorted { ($0.name ?? "") < ($1.name ?? "") }
        #expect(entries.map(\.name) == ["e", "one", "two"])
        #expect(entries.map(\.type) == [.directory, .regular, .regular])
        #expect(entries[1].size == 3)
        #expect(entries[1].modified != nil)

        #expect(try client.stat(folder + "/d/one")?.size == 3)
        #expect(try client.stat(folder + "/d/missing") == nil)
        try client.remove(folder + "/d/one")
        #expect(try client.stat(folder + "/d/one") == nil)
        let error = try #require(throws: SSHError.self) { try client.remove(folder + "/d/one") }
        #expect(error.kind == .notFound)
        #expect(error.sftpStatus == .noSuchFile)
        let listing = try #require(throws: SSHError.self) { _ = try client.listDirectory(folder + "/nothing") }
        #expect(listing.kind == .notFound)
        #expect(throws: SSHError.self) { _ = try client.open(folder + "/nothing") }
    }

    @Test func renameReplacesAnExistingFile() throws {
        #expect(client.supportsPosixRename, "OpenSSH offers posix-rename@openssh.com")
        try client.makeDirectories(folder)
        for (name, bytes) in [("old", [UInt8](repeating: 1, count: 1000)), ("new", [2, 2])] {
            let file = try client.create("\(folder)/\(name)")
            try file.write(bytes)
            try file.close()
        }
        try client.rename(folder + "/new", to: folder + "/old")
        #expect(try client.stat(folder + "/new") == nil)
        let sink = MemorySink()
        try client.download(folder + "/old", into: sink)
        #expect(sink.bytes == [2, 2])
        // The session is still in step after the hand-made request.
        #expect(try client.stat(folder + "/old")?.size == 2)
        let error = try #require(throws: SSHError.self) { try client.rename(folder + "/new", to: folder + "/x") }
        #expect(error.kind == .notFound)
    }

    /// Without posix-rename, the target is deleted first (plain SFTP v3 rename refuses to replace).
    @Test func renameWithoutPosixRenameStillReplaces() throws {
        client.supportsPosixRename = false
        try client.makeDirectories(folder)
        for (name, bytes) in [("old", [UInt8](repeating: 1, count: 1000)), ("new", [3])] {
            let file = try client.create("\(folder)/\(name)")
            try file.write(bytes)
            try file.close()
        }
        try client.rename(folder + "/new", to: folder + "/old")
        let sink = MemorySink()
        try client.download(folder + "/old", into: sink)
        #expect(sink.bytes == [3])
        #expect(try client.stat(folder + "/new") == nil)
        // and a plain rename to a free name
        try client.rename(folder + "/old", to: folder + "/fresh")
        #expect(try client.stat(folder + "/fresh")?.size == 1)
    }

    @Test func realPathResolvesTheHome() throws {
        #expect(try client.realPath(".") == servers["SSH_HOME"])
        try client.makeDirectories(folder + "/b")
        #expect(try client.realPath(folder + "/b/../b") == servers["SSH_HOME"] + "/\(folder)/b")
    }

    @Test func aRefusedWriteSaysDiskFullOrQuota() throws {
        let quota = try SFTPClient(configuration: SSHTestSupport.configuration(servers, portKey: "SSHD_QUOTA_PORT"))
        try quota.makeDirectories(folder)
        let file = try quota.create(folder + "/big.bin")
        let error = try #require(throws: SSHError.self) {
            for _ in 0..<16 { try file.write(Self.pattern(128 << 10)) }
        }
        #expect(error.kind == .writeRefused)
        #expect(error.sftpStatus == .failure)
        #expect(error.message.contains("the server refused the write (disk full or quota?)"))
        #expect(!error.isRetryable)
        try? file.close()
        try quota.remove(folder + "/big.bin")
    }
}
