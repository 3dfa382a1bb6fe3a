import Glibc
import LifeboatCore
import Testing

@testable import LifeboatArchive

@Suite struct TarWriterTests {
    @Test(arguments: [ArchiveCompression(algorithm: .zstd), ArchiveCompression(algorithm: .none)])
    func endFilePadsShortFilesWithZeros(compression: ArchiveCompression) throws {
        let sink = MemorySink()
        let writer = try TarWriter(output: sink, compression: compression)
        try writer.beginFile(ArchiveEntryMetadata(path: "short", type: .file, size: 100_000, mode: 0o644, mtime: 1))
        let head = Fixtures.randomBytes(70_000, seed: 5)
        try head.withUnsafeBytes { try writer.writeData($0) }
        try writer.endFile()
        try writer.add(ArchiveEntryMetadata(path: "after", type: .file, mode: 0o644, mtime: 2), contents: [9, 8, 7])
        try writer.finish()

        let read = try Archives.readAll(sink.bytes)
        #expect(read.map(\.metadata.path) == ["short", "after"])
        #expect(read[0].metadata.size == 100_000)
        #expect(read[0].data == head + [UInt8](repeating: 0, count: 30_000))
        #expect(read[1].data == [9, 8, 7])
    }

    @Test func writeDataRefusesMoreThanDeclared() throws {
        let sink = MemorySink()
        let writer = try TarWriter(output: sink, compression: .init(algorithm: .none))
        try writer.beginFile(ArchiveEntryMetadata(path: "five", type: .file, size: 5, mode: 0o644, mtime: 1))
        try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try writer.writeData($0) }
        let error = #expect(throws: ArchiveError.self) {
            try ([4, 5, 6] as [UInt8]).withUnsafeBytes { try writer.writeData($0) }
        }
        #expect(error?.code == .format)
        #expect(error?.path == "five")
        // The refused chunk wrote nothing: the archive is still consistent.
        try ([4, 5] as [UInt8]).withUnsafeBytes { try writer.writeData($0) }
        try writer.endFile()
        try writer.finish()
        #expect(try Archives.readAll(sink.bytes).map(\.data) == [[1, 2, 3, 4, 5]])
    }

    @Test func misuseIsRefused() throws {
        let writer = try TarWriter(output: MemorySink(), compression: .init(algorithm: .none))
        #expect(throws: ArchiveError.self) { try ([1] as [UInt8]).withUnsafeBytes { try writer.writeData($0) } }
        #expect(throws: ArchiveError.self) { try writer.endFile() }
        #expect(throws: ArchiveError.self) {
            try writer.add(ArchiveEntryMetadata(path: "d", type: .directory, mtime: 1), contents: [1])
        }
        #expect(throws: ArchiveError.self) {
            try writer.add(ArchiveEntryMetadata(path: "", type: .file, mtime: 1), contents: [])
        }
        #expect(throws: ArchiveError.self) {
            try writer.add(ArchiveEntryMetadata(path: "fifo", type: .other, mtime: 1), contents: [])
        }
        try writer.beginFile(ArchiveEntryMetadata(path: "open", type: .file, size: 1, mtime: 1))
        #expect(throws: ArchiveError.self) { try writer.finish() }
    }

    @Test(arguments: [
        ArchiveCompression(algorithm: .zstd, threads: 2), ArchiveCompression(algorithm: .gzip),
        ArchiveCompression(algorithm: .xz), ArchiveCompression(algorithm: .none),
    ])
    func sinkErrorsSurfaceUnchanged(compression: ArchiveCompression) throws {
        // Fails on the first block, then on a later one, then only at finish().
        for limit in [0, 200_000, 2_000_000] {
            let sink = FailingSink(limit: limit, id: limit)
            var thrown: (any Error)?
            do {
                let writer = try TarWriter(output: sink, compression: compression)
                for index in 0..<4 {
                    try writer.add(
                        ArchiveEntryMetadata(path: "f\(index)", type: .file, mode: 0o644, mtime: 1),
                        contents: Fixtures.randomBytes(300_000, seed: UInt64(index)))
                }
                try writer.finish()
                if limit >= 2_000_000 { continue }  // everything fitted
            } catch {
                thrown = error
            }
            let failure = try #require(thrown as? FailingSink.Failure, "\(String(describing: thrown))")
            #expect(failure == FailingSink.Failure(id: limit))
            #expect(sink.writesAfterFailure == 0)
        }
    }

    @Test func writerRefusesUseAfterASinkError() throws {
        let writer = try TarWriter(output: FailingSink(limit: 0, id: 1), compression: .init(algorithm: .none))
        #expect(throws: FailingSink.Failure.self) {
            try writer.add(
                ArchiveEntryMetadata(path: "big", type: .file, mtime: 1),
                contents: Fixtures.randomBytes(200_000, seed: 1))
        }
        #expect(throws: ArchiveError.self) {
            try writer.add(ArchiveEntryMetadata(path: "next", type: .file, mtime: 1), contents: [1])
        }
    }

    @Test func unfinishedWriterWritesNothingMoreWhenFreed() throws {
        let sink = MemorySink()
        do {
            let writer = try TarWriter(output: sink, compression: .init(algorithm: .zstd))
            try writer.add(ArchiveEntryMetadata(path: "a", type: .file, mtime: 1), contents: [1, 2, 3])
        }
        #expect(sink.bytes.isEmpty)
    }

    @Test func outputComesInWholeBlocks() throws {
        final class BlockRecorder: ByteSink {
            var sizes: [Int] = []
            func write(_ bytes: UnsafeRawBufferPointer) throws { sizes.append(bytes.count) }
        }
        let sink = BlockRecorder()
        let writer = try TarWriter(output: sink, compression: .init(algorithm: .none))
        try writer.add(
            ArchiveEntryMetadata(path: "f", type: .file, mtime: 1), contents: Fixtures.randomBytes(300_000, seed: 2))
        try writer.finish()
        #expect(sink.sizes.dropLast().allSatisfy { $0 == TarWriter.blockSize })
        #expect(sink.sizes.last.map { $0 % 10240 == 0 } == true)
    }

    /// The zstd frame carries a content checksum (which libarchive 3.6.2 leaves out), checked by the zstd tool,
    /// with one worker and with several.
    @Test(arguments: [1, 2])
    func zstdFramesCarryAVerifiedChecksum(threads: Int) throws {
        let bytes = try Archives.write(
            [(ArchiveEntryMetadata(path: "f", type: .file, mtime: 1), Fixtures.mixedBytes(3 << 20, seed: 3))],
            compression: .init(algorithm: .zstd, level: 3, threads: threads))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Files.write(directory.file("a.tar.zst"), bytes)
        let listing = String(decoding: try run(["zstd", "-lv", directory.file("a.tar.zst")]), as: UTF8.self)
        #expect(listing.contains("Check: XXH64"))
        try run(["zstd", "-tq", directory.file("a.tar.zst")])
    }

    /// A flipped byte inside a compressed block is caught by the frame checksum when reading.
    @Test func zstdChecksumCatchesCorruption() throws {
        let original = Fixtures.mixedBytes(1 << 20, seed: 5)
        var bytes = try Archives.write(
            [(ArchiveEntryMetadata(path: "f", type: .file, mtime: 1), original)],
            compression: .init(algorithm: .zstd, level: 3, threads: 1))
        #expect(bytes[bytes.count - 4..<bytes.count] != [0, 0, 0, 0])
        bytes[bytes.count - 2] ^= 0x40  // inside the 4-byte content checksum
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Files.write(directory.file("b.tar.zst"), bytes)
        #expect(throws: (any Error).self) { try run(["zstd", "-tq", directory.file("b.tar.zst")]) }
    }

    /// Sizes of 8 GiB and more need a pax size record; the stream is synthesised so no 8 GiB is kept anywhere.
    @Test func filesLargerThan8GiB() throws {
        /// Keeps the first block and counts the rest, which must be all zeros (data, padding, end-of-archive).
        final class HeadSink: ByteSink {
            var head: [UInt8] = []
            var total: Int64 = 0
            var nonZeroAfterHead = false
            func write(_ bytes: UnsafeRawBufferPointer) throws {
                if head.isEmpty {
                    head = Array(bytes)
                } else if bytes.last != 0 || bytes.first != 0 {
                    nonZeroAfterHead = true
                }
                total += Int64(bytes.count)
            }
        }
        /// Replays the head, then zeros up to `total`.
        final class ZeroTailSource: ByteSource {
            let head: [UInt8]
            var remaining: Int64
            var offset = 0
            init(head: [UInt8], total: Int64) {
                self.head = head
                remaining = total
            }
            func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
                let count = Int(min(Int64(buffer.count), remaining))
                if offset < head.count {
                    let take = min(count, head.count - offset)
                    head.withUnsafeBytes {
                        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + take]))
                    }
                    offset += take
                    remaining -= Int64(take)
                    return take
                }
                _ = memset(buffer.baseAddress!, 0, count)
                remaining -= Int64(count)
                return count
            }
        }

        let size: Int64 = (8 << 30) + 12345
        let sink = HeadSink()
        let writer = try TarWriter(output: sink, compression: .init(algorithm: .none))
        let metadata = ArchiveEntryMetadata(path: "huge.img", type: .file, size: size, mode: 0o600, mtime: 3)
        try writer.beginFile(metadata)
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        var written: Int64 = 0
        try zeros.withUnsafeBytes { chunk in
            while written < size {
                let count = Int(min(Int64(chunk.count), size - written))
                try writer.writeData(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
                written += Int64(count)
            }
        }
        try writer.endFile()
        try writer.finish()
        #expect(!sink.nonZeroAfterHead)
        #expect(String(decoding: sink.head.prefix(2048), as: UTF8.self).contains("size=\(size)"))
        #expect(sink.total >= size + 1536)

        let reader = try TarReader(input: ZeroTailSource(head: sink.head, total: sink.total))
        #expect(try reader.next() == metadata)
        try reader.skip()
        #expect(try reader.next() == nil)
    }
}
