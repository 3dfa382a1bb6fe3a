import Foundation
import Glibc
import LifeboatCore
import Testing

@testable import LifeboatArchive

enum Fixtures {
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<8 where index < count {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return bytes
    }

    static func textBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 100)
        var line = 0
        while bytes.count < count {
            let value = generator.next() % 10_000
            bytes += Array("2024-05-01T12:00:\(line % 60)Z host asterisk[\(line % 977)]: call \(value) ok\n".utf8)
            line += 1
        }
        return Array(bytes.prefix(count))
    }

    /// Half random, half text-like.
    static func mixedBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        randomBytes(count / 2, seed: seed) + textBytes(count - count / 2, seed: seed &+ 1)
    }
}

/// A sink that throws after accepting `limit` bytes.
final class FailingSink: ByteSink {
    struct Failure: Error, Equatable { let id: Int }
    let limit: Int
    let id: Int
    private(set) var accepted = 0
    private(set) var writesAfterFailure = 0
    private var failed = false

    init(limit: Int, id: Int) {
        self.limit = limit
        self.id = id
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if failed { writesAfterFailure += 1 }
        if accepted + bytes.count > limit {
            failed = true
            throw Failure(id: id)
        }
        accepted += bytes.count
    }
}

/// A source that throws after `limit` bytes.
final class FailingSource: ByteSource {
    struct Failure: Error, Equatable { let id: Int }
    private let inner: MemorySource
    private var remaining: Int
    let id: Int

    init(_ bytes: [UInt8], limit: Int, id: Int) {
        inner = MemorySource(bytes)
        remaining = limit
        self.id = id
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if remaining <= 0 { throw Failure(id: id) }
        let count = try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(remaining)))
        remaining -= count
        return count
    }
}

/// An entry as read back: header and data.
struct ReadEntry: Equatable {
    var metadata: ArchiveEntryMetadata
    var data: [UInt8]
}

enum Archives {
    /// Writes `entries` (metadata with contents) and returns the archive bytes.
    static func write(
        _ entries: [(ArchiveEntryMetadata, [UInt8])], compression: ArchiveCompression = .init(algorithm: .zstd)
    ) throws -> [UInt8] {
        let sink = MemorySink()
        let writer = try TarWriter(output: sink, compression: compression)
        for (metadata, contents) in entries {
            try writer.add(metadata, contents: contents)
        }
        try writer.finish()
        return sink.bytes
    }

    /// Reads every entry and its data, with an odd buffer size to cross block boundaries.
    static func readAll(_ bytes: [UInt8], bufferSize: Int = 7001) throws -> [ReadEntry] {
        let reader = try TarReader(input: MemorySource(bytes))
        var result: [ReadEntry] = []
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while let metadata = try reader.next() {
            var data: [UInt8] = []
            while true {
                let count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if count == 0 { break }
                data += buffer[0..<count]
            }
            result.append(ReadEntry(metadata: metadata, data: data))
        }
        return result
    }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("\(NSTemporaryDirectory())/lifeboat-archive-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw ArchiveError(code: .io, message: "mkdtemp failed")
        }
        path = String(cString: created)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }
}

enum Files {
    static func write(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func read(_ path: String) throws -> [UInt8] {
        try Array(Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func lstatus(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    static func exists(_ path: String) -> Bool { lstatus(path) != nil }

    static func isSymlink(_ path: String) -> Bool {
        guard let status = lstatus(path) else { return false }
        return status.st_mode & S_IFMT == S_IFLNK
    }

    static func isDirectory(_ path: String) -> Bool {
        guard let status = lstatus(path) else { return false }
        return status.st_mode & S_IFMT == S_IFDIR
    }

    static func linkTarget(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    static func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// Every path below `path`, recursively, relative to it.
    static func tree(_ path: String) -> [String] {
        var result: [String] = []
        func walk(_ relative: String) {
            for name in list(relative.isEmpty ? path : "\(path)/\(relative)") {
                let child = relative.isEmpty ? name : "\(relative)/\(name)"
                result.append(child)
                if isDirectory("\(path)/\(child)") { walk(child) }
            }
        }
        walk("")
        return result.sorted()
    }
}

/// Runs a program and returns its standard output; throws when it exits non-zero.
@discardableResult
func run(_ arguments: [String], in directory: String? = nil, input: [UInt8]? = nil) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let inputPipe = Pipe()
    if input != nil { process.standardInput = inputPipe }
    try process.run()
    if let input {
        inputPipe.fileHandleForWriting.write(Data(input))
        try inputPipe.fileHandleForWriting.close()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if process.terminationStatus != 0 {
        throw ArchiveError(
            code: .io, message: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(errorText)")
    }
    return Array(data)
}

extension ArchiveError {
    static func code(of error: any Error) -> ArchiveError.Code? {
        (error as? ArchiveError)?.code
    }
}
