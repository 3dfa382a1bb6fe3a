import Foundation
import Glibc
import LifeboatCore
import Testing

@testable import LifeboatArchive

@Suite struct GNUTarInteropTests {
    @Test func gnuTarExtractsWhatTarWriterWrote() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // In tree order, as a backup writes them: GNU tar sets a directory's mtime once it leaves the directory.
        let entries = TarRoundTripTests.sampleEntries().sorted {
            $0.0.path.split(separator: "/").lexicographicallyPrecedes($1.0.path.split(separator: "/"))
        }
        let bytes = try Archives.write(entries, compression: .init(algorithm: .zstd, level: 3, threads: 2))
        try Files.write(directory.file("ours.tar.zst"), bytes)

        let listing = String(
            decoding: try run(["tar", "--zstd", "-tf", directory.file("ours.tar.zst")]), as: UTF8.self)
        let listed = Set(listing.split(separator: "\n").map { String($0.hasSuffix("/") ? $0.dropLast() : $0[...]) })
        #expect(listed == Set(entries.map(\.0.path)))

        let out = directory.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try run(["tar", "--zstd", "-xpf", directory.file("ours.tar.zst"), "-C", out])
        let isRoot = geteuid() == 0
        for (metadata, contents) in entries {
            let path = "\(out)/\(metadata.path)"
            let status = try #require(Files.lstatus(path), "\(metadata.path) missing")
            #expect(UInt32(status.st_mode) & 0o7777 == metadata.mode || metadata.type == .symlink, "\(metadata.path)")
            #expect(Int64(status.st_mtim.tv_sec) == metadata.mtime, "\(metadata.path)")
            #expect(status.st_mtim.tv_nsec == Int(metadata.mtimeNanoseconds), "\(metadata.path)")
            if isRoot {
                #expect(status.st_uid == metadata.uid && status.st_gid == metadata.gid, "\(metadata.path)")
            }
            switch metadata.type {
            case .file: #expect(try Files.read(path) == contents, "\(metadata.path)")
            case .symlink: #expect(Files.linkTarget(path) == metadata.linkTarget)
            case .directory: #expect(Files.isDirectory(path))
            default: break
            }
        }
    }
}
