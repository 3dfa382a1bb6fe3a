import LifeboatCore
import Testing

@testable import LifeboatArchive

@Suite struct TarRoundTripTests {
    static let compressions: [ArchiveCompression] = [
        .init(algorithm: .zstd, level: 1, threads: 2),
        .init(algorithm: .zstd, level: 3, threads: 1),
        .init(algorithm: .zstd, level: 19, threads: 2),
        .init(algorithm: .gzip),
        .init(algorithm: .xz, threads: 2),
        .init(algorithm: .none),
    ]

    /// Entries covering sizes around the 64 KiB block, modes, nanosecond mtimes, Unicode names and owners.
    static func sampleEntries() -> [(ArchiveEntryMetadata, [UInt8])] {
        func file(_ path: String, _ contents: [UInt8], mode: UInt32 = 0o644, nanos: Int32 = 0) -> (
            ArchiveEntryMetadata, [UInt8]
        ) {
            (
                ArchiveEntryMetadata(
                    path: path, type: .file, size: Int64(contents.count), mode: mode, mtime: 1_714_567_890,
                    mtimeNanoseconds: nanos, uid: 1000, gid: 1001, userName: "asterisk", groupName: "voip"),
                contents
            )
        }
        return [
            (ArchiveEntryMetadata(path: "lifeboat", type: .directory, mode: 0o755, mtime: 1_700_000_000), []),
            (
                ArchiveEntryMetadata(
                    path: "components/config/etc", type: .directory, mode: 0o750, mtime: 1_700_000_001,
                    mtimeNanoseconds: 999_999_999), []
            ),
            file("lifeboat/empty", []),
            file("lifeboat/one", [0x42], mode: 0o600, nanos: 1),
            file("components/config/etc/64k-1", Fixtures.randomBytes(65535, seed: 1), mode: 0o755, nanos: 123_456_789),
            file("components/config/etc/64k", Fixtures.textBytes(65536, seed: 2)),
            file("components/config/etc/64k+1", Fixtures.randomBytes(65537, seed: 3), mode: 0o4755),
            file("components/data/big.bin", Fixtures.mixedBytes(3 << 20, seed: 4), mode: 0o640, nanos: 500),
            file("components/config/etc/asterisk/sip – Zürich ☎︎ 電話.conf", Array("[general]\n".utf8)),
            file(String(repeating: "long-directory-name/", count: 12) + "file-with-a-long-path", [1, 2, 3]),
            (
                ArchiveEntryMetadata(
                    path: "components/config/etc/current", type: .symlink, mode: 0o777, mtime: 1_700_000_002,
                    mtimeNanoseconds: 42, uid: 5, gid: 6, linkTarget: "asterisk/sip – Zürich ☎︎ 電話.conf"), []
            ),
            (
                ArchiveEntryMetadata(
                    path: "components/config/etc/absolute", type: .symlink, mode: 0o777, mtime: 1_700_000_003,
                    linkTarget: "/etc/hostname"), []
            ),
        ]
    }

    @Test(arguments: compressions)
    func roundTripPreservesEveryField(compression: ArchiveCompression) throws {
        let entries = Self.sampleEntries()
        let bytes = try Archives.write(entries, compression: compression)
        let read = try Archives.readAll(bytes)
        #expect(read.count == entries.count)
        for (written, back) in zip(entries, read) {
            #expect(back.metadata == written.0, "header of \(written.0.path)")
            #expect(back.data == written.1, "data of \(written.0.path)")
        }
    }

    @Test(arguments: compressions)
    func streamedWritesMatchAdd(compression: ArchiveCompression) throws {
        let contents = Fixtures.mixedBytes(1 << 20, seed: 9)
        let sink = MemorySink()
        let writer = try TarWriter(output: sink, compression: compression)
        let metadata = ArchiveEntryMetadata(
            path: "streamed", type: .file, size: Int64(contents.count), mode: 0o600, mtime: 7)
        try writer.beginFile(metadata)
        var offset = 0
        var chunk = 1
        try contents.withUnsafeBytes { all in
            while offset < all.count {
                let end = min(all.count, offset + chunk)
                try writer.writeData(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
                chunk = chunk * 3 + 7
            }
        }
        try writer.endFile()
        try writer.finish()
        let read = try Archives.readAll(sink.bytes, bufferSize: 65536)
        #expect(read == [ReadEntry(metadata: metadata, data: contents)])
    }

    @Test func directoriesComeBackWithoutTrailingSlash() throws {
        let bytes = try Archives.write([
            (ArchiveEntryMetadata(path: "a/b/", type: .directory, mode: 0o700, mtime: 1), []),
            (ArchiveEntryMetadata(path: "c", type: .directory, mode: 0o700, mtime: 1), []),
        ])
        #expect(try Archives.readAll(bytes).map(\.metadata.path) == ["a/b", "c"])
    }

    @Test func fileExtensions() {
        #expect(ArchiveCompression(algorithm: .zstd).fileExtension == ".tar.zst")
        #expect(ArchiveCompression(algorithm: .gzip).fileExtension == ".tar.gz")
        #expect(ArchiveCompression(algorithm: .xz).fileExtension == ".tar.xz")
        #expect(ArchiveCompression(algorithm: .none).fileExtension == ".tar")
        #expect(ArchiveCompression().algorithm == .zstd)
        #expect(ArchiveCompression().threads >= 1)
    }

    @Test func invalidLevelIsRefused() {
        #expect(throws: ArchiveError.self) {
            _ = try TarWriter(output: MemorySink(), compression: .init(algorithm: .gzip, level: 42))
        }
    }

    @Test func emptyArchiveReadsAsEmpty() throws {
        for compression in Self.compressions {
            let bytes = try Archives.write([], compression: compression)
            #expect(try Archives.readAll(bytes).isEmpty)
        }
    }
}
