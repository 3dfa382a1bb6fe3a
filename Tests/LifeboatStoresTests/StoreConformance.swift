import Foundation
import LifeboatCore
import Testing

@testable import LifeboatStores

/// The behaviour every `Store` backend must show. Each backend's suite calls `run` with a fresh,
/// empty store (and a unique prefix, so runs never see each other's objects).
enum StoreConformance {
    /// `interruptedUploadsLeaveTraces`: whether an upload that was neither committed nor aborted
    /// leaves something for `removeIncomplete` (false for stores whose small uploads are a single
    /// request, like S3 below its multipart threshold).
    static func run(_ store: any Store, prefix: String, interruptedUploadsLeaveTraces: Bool = true) throws {
        try putThenGetRoundTrips(store, prefix)
        try nothingIsVisibleBeforeCommit(store, prefix)
        try abortLeavesNothing(store, prefix)
        try listFiltersByPrefixAndSorts(store, prefix)
        try statAndDelete(store, prefix)
        try overwriteReplacesWhole(store, prefix)
        try largeObjectsStream(store, prefix)
        try removeIncompleteCleansInterruptedUploads(store, prefix, leavesTrace: interruptedUploadsLeaveTraces)
        try invalidNamesAreRefused(store, prefix)
    }

    /// Writes `data` in 1 MiB pieces, as the backup pipeline hands them over, and commits; aborts
    /// on failure.
    @discardableResult
    static func upload(_ store: any Store, _ name: String, _ data: [UInt8]) throws -> StoredObject {
        let writer = try store.makeWriter(for: name)
        do {
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + (1 << 20))
                try writer.write(Array(data[offset..<end]))
                offset = end
            }
            return try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    static func bytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
        var state = UInt32(seed) &* 2_654_435_761
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
    }

    static func putThenGetRoundTrips(_ store: any Store, _ prefix: String) throws {
        for size in [0, 1, 65_535, 65_536, 65_537, 300_000] {
            let data = bytes(size, seed: UInt8(size % 251))
            let name = "\(prefix)/rt/object-\(size).bin"
            let stored = try store.put(name, bytes: data)
            #expect(stored.name == name)
            #expect(stored.size == Int64(size))
            #expect(try store.getBytes(name) == data, "round trip of \(size) bytes")
            if let reader = try store.makeReader(for: name) {
                #expect(try reader.readAll() == data)
            }
        }
    }

    static func nothingIsVisibleBeforeCommit(_ store: any Store, _ prefix: String) throws {
        let name = "\(prefix)/pending/a.bin"
        let writer = try store.makeWriter(for: name)
        try writer.write(bytes(100_000))
        #expect(try store.stat(name) == nil)
        #expect(try store.list(prefix: "\(prefix)/pending/").isEmpty)
        _ = try writer.commit()
        #expect(try store.stat(name)?.size == 100_000)
        #expect(try store.list(prefix: "\(prefix)/pending/").map(\.name) == [name])
    }

    static func abortLeavesNothing(_ store: any Store, _ prefix: String) throws {
        let name = "\(prefix)/aborted/a.bin"
        let writer = try store.makeWriter(for: name)
        try writer.write(bytes(70_000))
        writer.abort()
        writer.abort()
        #expect(try store.stat(name) == nil)
        #expect(try store.list(prefix: "\(prefix)/aborted/").isEmpty)
        #expect(try store.removeIncomplete(prefix: "\(prefix)/aborted/").isEmpty)
    }

    static func listFiltersByPrefixAndSorts(_ store: any Store, _ prefix: String) throws {
        for name in ["b/2.json", "a/1.json", "a/0.bin", "ab/x.bin", "a/sub/deep.bin"] {
            try store.put("\(prefix)/list/\(name)", bytes: [1, 2, 3])
        }
        let all = try store.list(prefix: "\(prefix)/list/").map(\.name)
        #expect(all == ["a/0.bin", "a/1.json", "a/sub/deep.bin", "ab/x.bin", "b/2.json"].map { "\(prefix)/list/\($0)" })
        let folder = try store.list(prefix: "\(prefix)/list/a/").map(\.name)
        #expect(folder == ["a/0.bin", "a/1.json", "a/sub/deep.bin"].map { "\(prefix)/list/\($0)" })
        let partialName = try store.list(prefix: "\(prefix)/list/a").map(\.name)
        #expect(partialName.count == 4)
        #expect(try store.list(prefix: "\(prefix)/nothing-here/").isEmpty)
        #expect(try store.list(prefix: "\(prefix)/list/a/").allSatisfy { $0.size == 3 })
    }

    static func statAndDelete(_ store: any Store, _ prefix: String) throws {
        let name = "\(prefix)/del/x.bin"
        try store.put(name, bytes: bytes(10))
        #expect(try store.stat(name)?.size == 10)
        try store.delete(name)
        #expect(try store.stat(name) == nil)
        try store.delete(name)  // deleting a missing object is fine
        #expect(throws: StoreError.self) { try store.getBytes(name) }
        do {
            _ = try store.getBytes(name)
        } catch let error as StoreError {
            #expect(error.code == .notFound)
        }
    }

    static func overwriteReplacesWhole(_ store: any Store, _ prefix: String) throws {
        let name = "\(prefix)/over/x.bin"
        try store.put(name, bytes: bytes(200_000, seed: 3))
        let writer = try store.makeWriter(for: name)
        try writer.write(bytes(50, seed: 4))
        #expect(try store.getBytes(name) == bytes(200_000, seed: 3), "old object stays until commit")
        _ = try writer.commit()
        #expect(try store.getBytes(name) == bytes(50, seed: 4))
    }

    static func largeObjectsStream(_ store: any Store, _ prefix: String) throws {
        let name = "\(prefix)/large/x.bin"
        let writer = try store.makeWriter(for: name)
        let chunk = bytes(1 << 20, seed: 9)
        for _ in 0..<12 { try writer.write(chunk) }
        let stored = try writer.commit()
        #expect(stored.size == 12 << 20)
        final class Checker: ByteSink {
            let chunk: [UInt8]
            var offset = 0
            var mismatch = false
            init(_ chunk: [UInt8]) { self.chunk = chunk }
            func write(_ b: UnsafeRawBufferPointer) throws {
                for byte in b {
                    if byte != chunk[offset % chunk.count] { mismatch = true }
                    offset += 1
                }
            }
        }
        let checker = Checker(chunk)
        try store.get(name, into: checker)
        #expect(checker.offset == 12 << 20)
        #expect(!checker.mismatch)
    }

    static func removeIncompleteCleansInterruptedUploads(
        _ store: any Store, _ prefix: String, leavesTrace: Bool = true
    ) throws {
        let name = "\(prefix)/crash/x.bin"
        // An upload whose writer is never committed nor aborted (the process was killed).
        var writer: (any ObjectWriter)? = try store.makeWriter(for: name)
        try writer!.write(bytes(1000))
        let leftovers = Unmanaged.passRetained(writer! as AnyObject)  // keep it from aborting in deinit
        writer = nil
        #expect(try store.stat(name) == nil)
        #expect(try store.list(prefix: "\(prefix)/crash/").isEmpty)
        let removed = try store.removeIncomplete(prefix: "\(prefix)/crash/")
        #expect(removed.count == (leavesTrace ? 1 : 0))
        #expect(try store.removeIncomplete(prefix: "\(prefix)/crash/").isEmpty)
        leftovers.release()
    }

    static func invalidNamesAreRefused(_ store: any Store, _ prefix: String) throws {
        for bad in ["", "/abs", "\(prefix)/../escape", "\(prefix)//double", "\(prefix)/./dot"] {
            #expect(throws: StoreError.self, "name '\(bad)'") { _ = try store.makeWriter(for: bad) }
        }
    }
}

@Suite struct LocalStoreTests {
    @Test func conformance() throws {
        let dir = try TemporaryDirectory()
        try StoreConformance.run(LocalStore(name: "local", root: dir.path), prefix: "conf")
    }

    @Test func writesGoToPartialThenRename() throws {
        let dir = try TemporaryDirectory()
        let store = LocalStore(name: "local", root: dir.path)
        let writer = try store.makeWriter(for: "a/b.bin")
        try writer.write([1, 2, 3])
        #expect(FileManager.default.fileExists(atPath: dir.path + "/a/b.bin.partial"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/a/b.bin"))
        _ = try writer.commit()
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/a/b.bin.partial"))
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.path + "/a/b.bin")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func missingRootIsAClearError() throws {
        let store = LocalStore(name: "gone", root: "/nonexistent/lifeboat-store")
        #expect {
            _ = try store.list(prefix: "")
        } throws: { error in
            (error as? StoreError)?.code == .notFound && "\(error)".contains("does not exist")
        }
    }
}

/// A temporary directory removed when the value is released.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "lifeboat-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct PrefixedStoreTests {
    @Test func conformance() throws {
        let dir = try TemporaryDirectory()
        let store = PrefixedStore(LocalStore(name: "local", root: dir.path), prefix: "/site/pbx/")
        try StoreConformance.run(store, prefix: "conf")
        // Everything landed under the prefix on the underlying store.
        let base = LocalStore(name: "local", root: dir.path)
        #expect(try base.list(prefix: "").allSatisfy { $0.name.hasPrefix("site/pbx/conf/") })
        #expect(try store.list(prefix: "conf/list/a/").first?.name == "conf/list/a/0.bin")
    }
}
