import Foundation
import LifeboatCore
import Testing

@testable import LifeboatArchive

@Suite struct TarReaderTests {
    static func entries() -> [(ArchiveEntryMetadata, [UInt8])] {
        [
            (ArchiveEntryMetadata(path: "dir", type: .directory, mtime: 1), []),
            (ArchiveEntryMetadata(path: "dir/a", type: .file, mtime: 1), Fixtures.textBytes(1024, seed: 1)),
            (ArchiveEntryMetadata(path: "dir/b", type: .file, mtime: 1), Fixtures.mixedBytes(100_000, seed: 2)),
            (ArchiveEntryMetadata(path: "dir/l", type: .symlink, mtime: 1, linkTarget: "a"), []),
            // Ends in a non-zero byte at a 512-byte boundary, so the end-of-archive marker is easy to locate.
            (ArchiveEntryMetadata(path: "dir/c", type: .file, mtime: 1), [UInt8](repeating: 0x61, count: 2048)),
        ]
    }

    /// Reads the whole archive, data included; returns how many entries came back.
    @discardableResult
    static func consume(_ bytes: [UInt8]) throws -> Int {
        try Archives.readAll(bytes).count
    }

    @Test func plainArchiveCutAnywhereThrows() throws {
        let bytes = try Archives.write(Self.entries(), compression: .init(algorithm: .none))
        let lastData = try #require(bytes.lastIndex { $0 != 0 })
        let endMarker = (lastData / 512 + 1) * 512
        // Every header/data boundary up to and including the bare end of the last entry, plus odd offsets.
        var cuts = Array(stride(from: 0, through: endMarker, by: 512))
        cuts += [1, 100, 511, 513, 5000, endMarker - 1, endMarker + 100]
        for cut in cuts {
            let error = #expect(throws: ArchiveError.self, "cut at \(cut) of \(bytes.count)") {
                try Self.consume(Array(bytes.prefix(cut)))
            }
            // Less than one header cannot even be recognised as tar.
            if cut >= 512 {
                #expect(error?.code == .truncated, "cut at \(cut): \(String(describing: error))")
            }
        }
        #expect(try Self.consume(bytes) == Self.entries().count)
        // One whole zero block after the last entry is accepted as the end, as GNU tar does.
        #expect(try Self.consume(Array(bytes.prefix(endMarker + 512))) == Self.entries().count)
    }

    @Test(arguments: [ArchiveAlgorithmCase.zstd, .gzip, .xz])
    func compressedArchiveCutAnywhereThrows(algorithm: ArchiveAlgorithmCase) throws {
        let bytes = try Archives.write(Self.entries(), compression: .init(algorithm: algorithm.value))
        var cuts = [0, 1, 4, 10, 100, bytes.count / 3, bytes.count / 2, bytes.count - 10, bytes.count - 1]
        cuts += stride(from: 7, to: bytes.count, by: max(1, bytes.count / 40))
        for cut in Set(cuts).sorted() {
            #expect(throws: (any Error).self, "cut at \(cut) of \(bytes.count)") {
                try Self.consume(Array(bytes.prefix(cut)))
            }
        }
        #expect(try Self.consume(bytes) == Self.entries().count)
    }

    /// A flipped byte either makes reading fail or (when it hits a bit zstd ignores) changes nothing: altered data
    /// is never returned. This relies on the frame checksum TarWriter adds.
    @Test func flippedByteInZstdStreamNeverYieldsAlteredData() throws {
        let entries = Self.entries()
        let bytes = try Archives.write(entries, compression: .init(algorithm: .zstd, level: 3, threads: 2))
        var detected = 0
        var positions = Array(stride(from: 0, to: bytes.count, by: 37))
        positions += [4, bytes.count / 2, bytes.count - 1, bytes.count - 4]
        for position in positions {
            var corrupt = bytes
            corrupt[position] ^= 0x10
            do {
                let read = try Archives.readAll(corrupt)
                #expect(read.map(\.data) == entries.map(\.1), "flip at \(position) returned altered data")
            } catch {
                detected += 1
            }
        }
        #expect(detected >= positions.count * 9 / 10, "only \(detected) of \(positions.count) flips detected")
        // Flipping the middle of the compressed data must be detected.
        var corrupt = bytes
        corrupt[bytes.count / 2] ^= 0xFF
        #expect(throws: (any Error).self) { try Self.consume(corrupt) }
    }

    @Test func garbageIsRefused() {
        #expect(throws: ArchiveError.self) { try Self.consume(Fixtures.randomBytes(10_000, seed: 1)) }
        #expect(throws: ArchiveError.self) { try Self.consume([]) }
    }

    @Test func sourceErrorsSurfaceUnchanged() throws {
        let bytes = try Archives.write(Self.entries())
        for limit in [0, 10, bytes.count / 2] {
            let source = FailingSource(bytes, limit: limit, id: limit)
            #expect(throws: FailingSource.Failure(id: limit)) {
                let reader = try TarReader(input: source)
                var buffer = [UInt8](repeating: 0, count: 1000)
                while try reader.next() != nil {
                    while try buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }) > 0 {}
                }
            }
        }
    }

    @Test func skipAndPartialReadsMoveToTheNextEntry() throws {
        let entries = Self.entries()
        let reader = try TarReader(input: MemorySource(try Archives.write(entries)))
        var buffer = [UInt8](repeating: 0, count: 10)
        var paths: [String] = []
        while let entry = try reader.next() {
            paths.append(entry.path)
            if entry.path == "dir/a" { _ = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) } }
            if entry.path == "dir/b" { try reader.skip() }
        }
        #expect(paths == entries.map(\.0.path))
        #expect(try reader.next() == nil)
    }

    // MARK: - Archives made by other tools

    static func makeTree(_ directory: TemporaryDirectory) throws -> [String: [UInt8]] {
        let root = directory.file("tree")
        let longName = String(repeating: "ü", count: 60) + ".txt"  // 120 bytes: beyond ustar's 100-byte name field
        var files: [String: [UInt8]] = [
            "etc/asterisk/sip.conf": Fixtures.textBytes(5000, seed: 1),
            "etc/asterisk/empty": [],
            "var/lib/\(longName)": Fixtures.randomBytes(70_000, seed: 2),
            "var/lib/Zürich ☎.bin": Fixtures.mixedBytes(300_000, seed: 3),
        ]
        for (path, contents) in files {
            try FileManager.default.createDirectory(
                atPath: (root + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Files.write(root + "/" + path, contents)
        }
        try FileManager.default.createSymbolicLink(
            atPath: root + "/etc/current", withDestinationPath: "asterisk/sip.conf")
        try run(["chmod", "4750", root + "/etc/asterisk/sip.conf"])
        try run(["touch", "-h", "-d", "2021-03-04 05:06:07.123456789", root + "/etc/asterisk/sip.conf"])
        files["etc/current"] = nil
        return files
    }

    @Test(arguments: [
        ["--zstd", "-cf"], ["--format=pax", "-cf"], ["--format=gnu", "-cf"], ["--format=pax", "--zstd", "-cf"],
        ["-z", "-cf"],
    ])
    func readsArchivesMadeByGNUTar(flags: [String]) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let files = try Self.makeTree(directory)
        let archivePath = directory.file("gnu.tar")
        try run(["tar"] + flags + [archivePath, "-C", directory.file("tree"), "etc", "var"])

        let read = try Archives.readAll(try Files.read(archivePath))
        var seen: [String: ReadEntry] = [:]
        for entry in read { seen[entry.metadata.path] = entry }
        for (path, contents) in files {
            let entry = try #require(seen[path], "\(path) missing; read \(seen.keys.sorted())")
            #expect(entry.metadata.type == .file)
            #expect(entry.data == contents, "\(path)")
        }
        #expect(seen["etc"]?.metadata.type == .directory)
        #expect(seen["etc/current"]?.metadata.type == .symlink)
        #expect(seen["etc/current"]?.metadata.linkTarget == "asterisk/sip.conf")
        let conf = try #require(seen["etc/asterisk/sip.conf"]?.metadata)
        #expect(conf.mode == 0o4750)
        let expected = try #require(Files.lstatus(directory.file("tree/etc/asterisk/sip.conf")))
        #expect(conf.mtime == Int64(expected.st_mtim.tv_sec))
        if flags.contains("--format=pax") {
            #expect(conf.mtimeNanoseconds == 123_456_789)
        }
    }

    @Test func readsArchivesMadeByPythonTarfile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w:gz", format=tarfile.PAX_FORMAT) as t:
                info = tarfile.TarInfo("data/ünïcode.txt"); data = b"hello from python\\n"
                info.size = len(data); info.mode = 0o640; info.mtime = 1234567890.5; info.uid = 7; info.gid = 8
                t.addfile(info, io.BytesIO(data))
                link = tarfile.TarInfo("data/link"); link.type = tarfile.SYMTYPE; link.linkname = "ünïcode.txt"
                t.addfile(link)
            """
        try run(["python3", "-c", script, directory.file("py.tar.gz")])
        let read = try Archives.readAll(try Files.read(directory.file("py.tar.gz")))
        #expect(read.map(\.metadata.path) == ["data/ünïcode.txt", "data/link"])
        #expect(read.first?.data == Array("hello from python\n".utf8))
        #expect(read.first?.metadata.mode == 0o640)
        #expect(read.first?.metadata.mtime == 1_234_567_890)
        #expect(read.first?.metadata.mtimeNanoseconds == 500_000_000)
        #expect(read.first?.metadata.uid == 7)
        #expect(read.last?.metadata.linkTarget == "ünïcode.txt")
    }
}

/// `ArchiveCompression.Algorithm` for test arguments.
enum ArchiveAlgorithmCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case zstd, gzip, xz
    var value: ArchiveCompression.Algorithm { ArchiveCompression.Algorithm(rawValue: rawValue)! }
    var testDescription: String { rawValue }
}
