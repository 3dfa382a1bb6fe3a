import Foundation
import Glibc
import LifeboatCore
import Testing

@testable import LifeboatArchive

/// A root to extract into and an empty sentinel directory beside it that must stay empty.
struct ExtractionSandbox {
    let base: TemporaryDirectory
    var root: String { base.file("root") }
    var outside: String { base.file("outside") }

    init() throws {
        base = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: base.file("root"), withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: base.file("outside"), withIntermediateDirectories: false)
    }

    /// Extracts every entry, collecting refusals and carrying on as a restore would.
    func extract(_ bytes: [UInt8], restoreOwnership: Bool = false) throws -> [ArchiveError] {
        let reader = try TarReader(input: MemorySource(bytes))
        let extractor = try SafeExtractor(root: root, restoreOwnership: restoreOwnership)
        var refused: [ArchiveError] = []
        while let entry = try reader.next() {
            do {
                try extractor.extract(entry, data: { try reader.read(into: $0) }, observe: nil)
            } catch let error as ArchiveError {
                refused.append(error)
            }
        }
        try extractor.finish()
        return refused
    }
}

/// A hostile archive and the entry that must be refused.
struct HostileCase: Sendable, CustomTestStringConvertible {
    enum Tool: String, Sendable { case tarWriter, gnuTar, python }
    var name: String
    var tool: Tool
    var refusedPath: String
    var code: ArchiveError.Code = .unsafePath
    var testDescription: String { "\(tool.rawValue): \(name)" }

    static let all: [HostileCase] = [
        .init(name: "dotdot", tool: .tarWriter, refusedPath: "../outside/x"),
        .init(name: "nested dotdot", tool: .tarWriter, refusedPath: "a/../../outside/x"),
        .init(name: "absolute", tool: .tarWriter, refusedPath: "<outside>/x"),
        .init(name: "symlink to absolute dir, then file through it", tool: .tarWriter, refusedPath: "a/x"),
        .init(name: "symlink to .., then file through it", tool: .tarWriter, refusedPath: "b/outside/x"),
        .init(name: "symlink to dir, then directory through it", tool: .tarWriter, refusedPath: "c/sub"),
        .init(name: "hardlink", tool: .tarWriter, refusedPath: "h", code: .unsupportedEntry),
        .init(name: "dotdot", tool: .gnuTar, refusedPath: "../outside/x"),
        .init(name: "absolute", tool: .gnuTar, refusedPath: "<outside>/x"),
        .init(name: "symlink to absolute dir, then file through it", tool: .gnuTar, refusedPath: "a/x"),
        .init(name: "hardlink", tool: .gnuTar, refusedPath: "h", code: .unsupportedEntry),
        .init(name: "dotdot", tool: .python, refusedPath: "../outside/x"),
        .init(name: "nested dotdot", tool: .python, refusedPath: "a/../../outside/x"),
        .init(name: "absolute", tool: .python, refusedPath: "<outside>/x"),
        .init(name: "symlink to absolute dir, then file through it", tool: .python, refusedPath: "a/x"),
        .init(name: "symlink to .., then file through it", tool: .python, refusedPath: "b/outside/x"),
        .init(name: "symlink to dir, then directory through it", tool: .python, refusedPath: "c/sub"),
        .init(name: "hardlink", tool: .python, refusedPath: "h", code: .unsupportedEntry),
    ]

    /// Builds the archive: a harmless file, the attack, and another harmless file.
    func archive(in sandbox: ExtractionSandbox) throws -> (bytes: [UInt8], refusedPath: String) {
        let refused = refusedPath.replacingOccurrences(of: "<outside>", with: sandbox.outside)
        switch tool {
        case .tarWriter: return (try tarWriterArchive(refused, sandbox), refused)
        case .gnuTar: return (try gnuTarArchive(refused, sandbox), refused)
        case .python: return (try pythonArchive(refused, sandbox), refused)
        }
    }

    private func tarWriterArchive(_ refused: String, _ sandbox: ExtractionSandbox) throws -> [UInt8] {
        func file(_ path: String) -> (ArchiveEntryMetadata, [UInt8]) {
            (ArchiveEntryMetadata(path: path, type: .file, mtime: 1), Array("pwned".utf8))
        }
        func link(_ path: String, _ target: String) -> (ArchiveEntryMetadata, [UInt8]) {
            (ArchiveEntryMetadata(path: path, type: .symlink, mtime: 1, linkTarget: target), [])
        }
        var entries = [(ArchiveEntryMetadata(path: "before", type: .file, mtime: 1), Array("ok".utf8))]
        switch name {
        case "symlink to absolute dir, then file through it": entries += [link("a", sandbox.outside), file(refused)]
        case "symlink to .., then file through it": entries += [link("b", ".."), file(refused)]
        case "symlink to dir, then directory through it":
            entries += [
                link("c", sandbox.outside), (ArchiveEntryMetadata(path: refused, type: .directory, mtime: 1), []),
            ]
        case "hardlink":
            entries += [
                (ArchiveEntryMetadata(path: refused, type: .hardlink, mtime: 1, linkTarget: "../outside/x"), [])
            ]
        default: entries += [file(refused)]
        }
        entries += [(ArchiveEntryMetadata(path: "after", type: .file, mtime: 1), Array("ok".utf8))]
        return try Archives.write(entries, compression: .init(algorithm: .zstd))
    }

    private func gnuTarArchive(_ refused: String, _ sandbox: ExtractionSandbox) throws -> [UInt8] {
        let stage = sandbox.base.file("stage")
        try FileManager.default.createDirectory(atPath: stage + "/a", withIntermediateDirectories: true)
        try Files.write(stage + "/before", Array("ok".utf8))
        try Files.write(stage + "/after", Array("ok".utf8))
        try Files.write(stage + "/x", Array("pwned".utf8))
        let archive = sandbox.base.file("gnu.tar")
        try run(["tar", "-cf", archive, "-C", stage, "before"])
        switch name {
        case "dotdot":
            try run(["tar", "-rPf", archive, "-C", stage, "--transform", "s,^x$,../outside/x,", "x"])
        case "absolute":
            try run(["tar", "-rPf", archive, "-C", stage, "--transform", "s,^x$,\(refused),", "x"])
        case "symlink to absolute dir, then file through it":
            let linkStage = sandbox.base.file("stage-link")
            try FileManager.default.createDirectory(atPath: linkStage, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: linkStage + "/a", withDestinationPath: sandbox.outside)
            try Files.write(stage + "/a/x", Array("pwned".utf8))
            try run(["tar", "-rf", archive, "-C", linkStage, "a"])
            try run(["tar", "-rf", archive, "-C", stage, "a/x"])
        case "hardlink":
            try run(["ln", stage + "/x", stage + "/h"])
            try run(["tar", "-rf", archive, "-C", stage, "x", "h"])
        default:
            Issue.record("no GNU tar recipe for \(name)")
        }
        try run(["tar", "-rf", archive, "-C", stage, "after"])
        return try Files.read(archive)
    }

    private func pythonArchive(_ refused: String, _ sandbox: ExtractionSandbox) throws -> [UInt8] {
        let attack: String
        switch name {
        case "symlink to absolute dir, then file through it":
            attack = "link('a', \(pythonString(sandbox.outside))); add(\(pythonString(refused)))"
        case "symlink to .., then file through it":
            attack = "link('b', '..'); add(\(pythonString(refused)))"
        case "symlink to dir, then directory through it":
            attack = "link('c', \(pythonString(sandbox.outside))); directory(\(pythonString(refused)))"
        case "hardlink":
            attack = "add('x'); hardlink(\(pythonString(refused)), 'x')"
        default:
            attack = "add(\(pythonString(refused)))"
        }
        let script = """
            import io, sys, tarfile
            t = tarfile.open(sys.argv[1], "w:xz", format=tarfile.GNU_FORMAT)
            def add(name, data=b"pwned"):
                info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
            def link(name, target):
                info = tarfile.TarInfo(name); info.type = tarfile.SYMTYPE; info.linkname = target; t.addfile(info)
            def hardlink(name, target):
                info = tarfile.TarInfo(name); info.type = tarfile.LNKTYPE; info.linkname = target; t.addfile(info)
            def directory(name):
                info = tarfile.TarInfo(name); info.type = tarfile.DIRTYPE; info.mode = 0o755; t.addfile(info)
            add("before", b"ok")
            \(attack)
            add("after", b"ok")
            t.close()
            """
        let archive = sandbox.base.file("py.tar.xz")
        try run(["python3", "-c", script, archive])
        return try Files.read(archive)
    }

    private func pythonString(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

@Suite struct SafeExtractorTests {
    @Test(arguments: HostileCase.all)
    func hostileEntriesAreRefusedAndNothingEscapes(hostile: HostileCase) throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        let (bytes, refusedPath) = try hostile.archive(in: sandbox)

        let refused = try sandbox.extract(bytes)

        #expect(refused.count == 1, "\(refused)")
        let error = try #require(refused.first)
        #expect(error.code == hostile.code)
        #expect(error.path == refusedPath)
        #expect(error.description.contains(refusedPath))
        #expect(Files.tree(sandbox.outside).isEmpty, "written outside the root: \(Files.tree(sandbox.outside))")
        // The harmless entries around the attack are still extracted.
        #expect(try Files.read(sandbox.root + "/before") == Array("ok".utf8))
        #expect(try Files.read(sandbox.root + "/after") == Array("ok".utf8))
        #expect(!Files.tree(sandbox.root).contains { $0.contains(".lifeboat-") })
    }

    @Test func symlinkAlreadyOnDiskIsNotFollowed() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        try FileManager.default.createSymbolicLink(atPath: sandbox.root + "/pre", withDestinationPath: sandbox.outside)
        let bytes = try Archives.write([
            (ArchiveEntryMetadata(path: "pre/x", type: .file, mtime: 1), [1]),
            (ArchiveEntryMetadata(path: "pre/d/e", type: .directory, mtime: 1), []),
        ])
        let refused = try sandbox.extract(bytes)
        #expect(refused.map(\.path) == ["pre/x", "pre/d/e"])
        #expect(refused.allSatisfy { $0.code == .unsafePath })
        #expect(Files.tree(sandbox.outside).isEmpty)
    }

    @Test func fileReplacesASymlinkInsteadOfWritingThroughIt() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        let bytes = try Archives.write([
            (ArchiveEntryMetadata(path: "s", type: .symlink, mtime: 1, linkTarget: sandbox.outside + "/victim"), []),
            (ArchiveEntryMetadata(path: "s", type: .file, mode: 0o600, mtime: 1), Array("mine".utf8)),
        ])
        #expect(try sandbox.extract(bytes).isEmpty)
        #expect(!Files.isSymlink(sandbox.root + "/s"))
        #expect(try Files.read(sandbox.root + "/s") == Array("mine".utf8))
        #expect(Files.tree(sandbox.outside).isEmpty)
    }

    @Test func preservesModesTimesAndSymlinks() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        let entries: [(ArchiveEntryMetadata, [UInt8])] = [
            (
                ArchiveEntryMetadata(
                    path: "etc", type: .directory, mode: 0o750, mtime: 1_600_000_000, mtimeNanoseconds: 111), []
            ),
            (
                ArchiveEntryMetadata(
                    path: "etc/locked", type: .directory, mode: 0o555, mtime: 1_600_000_001, mtimeNanoseconds: 222), []
            ),
            (
                ArchiveEntryMetadata(path: "etc/locked/inside", type: .file, mode: 0o444, mtime: 1_600_000_002),
                [1, 2, 3]
            ),
            (
                ArchiveEntryMetadata(
                    path: "etc/secret", type: .file, mode: 0o600, mtime: 1_600_000_003, mtimeNanoseconds: 999_999_999),
                Fixtures.randomBytes(200_000, seed: 1)
            ),
            (
                ArchiveEntryMetadata(path: "etc/tool", type: .file, mode: 0o755, mtime: 1_600_000_004),
                Array("#!/bin/sh\n".utf8)
            ),
            (
                ArchiveEntryMetadata(
                    path: "etc/suid", type: .file, mode: 0o4755, mtime: 1_600_000_005, uid: geteuid(), gid: getegid()),
                [0]
            ),
            (
                ArchiveEntryMetadata(
                    path: "etc/link", type: .symlink, mtime: 1_600_000_006, mtimeNanoseconds: 333,
                    linkTarget: "secret"),
                []
            ),
            (
                ArchiveEntryMetadata(
                    path: "etc/dangling", type: .symlink, mtime: 1_600_000_007, linkTarget: "/nonexistent/x"), []
            ),
            (ArchiveEntryMetadata(path: "implicit/parents/file", type: .file, mode: 0o640, mtime: 1_600_000_008), [7]),
        ]
        #expect(try sandbox.extract(try Archives.write(entries)).isEmpty)
        for (metadata, contents) in entries {
            let path = sandbox.root + "/" + metadata.path
            let status = try #require(Files.lstatus(path), "\(metadata.path) missing")
            #expect(Int64(status.st_mtim.tv_sec) == metadata.mtime, "\(metadata.path)")
            #expect(status.st_mtim.tv_nsec == Int(metadata.mtimeNanoseconds), "\(metadata.path)")
            switch metadata.type {
            case .file:
                #expect(UInt32(status.st_mode) & 0o7777 == metadata.mode, "\(metadata.path)")
                #expect(try Files.read(path) == contents)
            case .directory:
                #expect(UInt32(status.st_mode) & 0o7777 == metadata.mode, "\(metadata.path)")
            case .symlink:
                #expect(Files.linkTarget(path) == metadata.linkTarget)
            default: break
            }
        }
        #expect(Files.isDirectory(sandbox.root + "/implicit/parents"))
        #expect(!Files.tree(sandbox.root).contains { $0.contains(".lifeboat-") })
    }

    @Test func laterEntryForTheSamePathWins() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        let bytes = try Archives.write([
            (ArchiveEntryMetadata(path: "dup", type: .file, mode: 0o600, mtime: 1), Array("first".utf8)),
            (ArchiveEntryMetadata(path: "dup", type: .file, mode: 0o644, mtime: 2), Array("second".utf8)),
            (ArchiveEntryMetadata(path: "was-dir", type: .directory, mtime: 1), []),
            (ArchiveEntryMetadata(path: "was-dir", type: .file, mtime: 1), Array("file now".utf8)),
            (ArchiveEntryMetadata(path: "was-file", type: .file, mtime: 1), Array("file".utf8)),
            (ArchiveEntryMetadata(path: "was-file", type: .directory, mode: 0o700, mtime: 5), []),
            (ArchiveEntryMetadata(path: "was-link", type: .symlink, mtime: 1, linkTarget: "dup"), []),
            (ArchiveEntryMetadata(path: "was-link", type: .symlink, mtime: 1, linkTarget: "was-dir"), []),
            (ArchiveEntryMetadata(path: "d", type: .directory, mode: 0o700, mtime: 10), []),
            (ArchiveEntryMetadata(path: "d", type: .directory, mode: 0o751, mtime: 20), []),
        ])
        #expect(try sandbox.extract(bytes).isEmpty)
        #expect(try Files.read(sandbox.root + "/dup") == Array("second".utf8))
        #expect(try Files.read(sandbox.root + "/was-dir") == Array("file now".utf8))
        #expect(Files.isDirectory(sandbox.root + "/was-file"))
        #expect(Files.linkTarget(sandbox.root + "/was-link") == "was-dir")
        let d = try #require(Files.lstatus(sandbox.root + "/d"))
        #expect(UInt32(d.st_mode) & 0o7777 == 0o751)
        #expect(d.st_mtim.tv_sec == 20)
        #expect(Files.list(sandbox.root) == ["d", "dup", "was-dir", "was-file", "was-link"])
    }

    @Test func ownershipIsRestoredOnlyWhenAsked() throws {
        guard geteuid() == 0 else { return }  // only root can give files away
        for restore in [true, false] {
            let sandbox = try ExtractionSandbox()
            defer { sandbox.base.remove() }
            let bytes = try Archives.write([
                (ArchiveEntryMetadata(path: "dir", type: .directory, mtime: 1, uid: 1234, gid: 5678), []),
                (
                    ArchiveEntryMetadata(path: "dir/suid", type: .file, mode: 0o6755, mtime: 1, uid: 1234, gid: 5678),
                    [1]
                ),
                (
                    ArchiveEntryMetadata(
                        path: "dir/link", type: .symlink, mtime: 1, uid: 1234, gid: 5678, linkTarget: "suid"), []
                ),
            ])
            #expect(try sandbox.extract(bytes, restoreOwnership: restore).isEmpty)
            for name in ["dir", "dir/suid", "dir/link"] {
                let status = try #require(Files.lstatus(sandbox.root + "/" + name))
                #expect(status.st_uid == (restore ? 1234 : 0), "\(name) restore=\(restore)")
                #expect(status.st_gid == (restore ? 5678 : 0), "\(name) restore=\(restore)")
            }
            // Without ownership, setuid/setgid would hand the archive's bits to the wrong owner: they are dropped.
            let suid = try #require(Files.lstatus(sandbox.root + "/dir/suid"))
            #expect(UInt32(suid.st_mode) & 0o7777 == (restore ? 0o6755 : 0o755))
        }
    }

    @Test func observeSeesEveryByteWritten() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        let contents = Fixtures.mixedBytes(1_000_000, seed: 4)
        let reader = try TarReader(
            input: MemorySource(
                try Archives.write([(ArchiveEntryMetadata(path: "f", type: .file, mtime: 1), contents)])))
        let extractor = try SafeExtractor(root: sandbox.root, restoreOwnership: false)
        let entry = try #require(try reader.next())
        var observed: [UInt8] = []
        try extractor.extract(entry, data: { try reader.read(into: $0) }, observe: { observed += $0 })
        try extractor.finish()
        #expect(observed == contents)
        #expect(try Files.read(sandbox.root + "/f") == contents)
    }

    @Test func shortDataLeavesNothingBehind() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        let extractor = try SafeExtractor(root: sandbox.root, restoreOwnership: false)
        var supplied = false
        let error = #expect(throws: ArchiveError.self) {
            try extractor.extract(
                ArchiveEntryMetadata(path: "short", type: .file, size: 100, mtime: 1),
                data: { buffer in
                    if supplied { return 0 }
                    supplied = true
                    buffer[0] = 1
                    return 1
                }, observe: nil)
        }
        #expect(error?.code == .truncated)
        #expect(Files.tree(sandbox.root).isEmpty)
    }

    @Test func rootMustBeAnExistingDirectory() throws {
        let sandbox = try ExtractionSandbox()
        defer { sandbox.base.remove() }
        try Files.write(sandbox.base.file("plain"), [1])
        #expect(throws: ArchiveError.self) {
            _ = try SafeExtractor(root: sandbox.base.file("missing"), restoreOwnership: false)
        }
        #expect(throws: ArchiveError.self) {
            _ = try SafeExtractor(root: sandbox.base.file("plain"), restoreOwnership: false)
        }
    }

    @Test(arguments: ["", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "a/b/../c", "a\0b", "/"])
    func validateRefuses(path: String) {
        let error = #expect(throws: ArchiveError.self) { try SafeExtractor.validate(path: path) }
        #expect(error?.code == .unsafePath)
    }

    @Test(arguments: ["a", "a/b/c", "./a", "a//b", "...", "..a", "a/..b", "lifeboat/manifest.json", "a/"])
    func validateAccepts(path: String) throws {
        try SafeExtractor.validate(path: path)
    }
}
