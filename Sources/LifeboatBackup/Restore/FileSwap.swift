import Foundation
import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// Renames for in-place restores: atomic exchanges where the file system offers them, keeping copies
/// by hard link, and the errors they give in words.
enum FileSwap {
    private typealias RenameAt2 =
        @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32
    /// `renameat2` (glibc 2.28), which Swift's Glibc module does not declare.
    private static let renameAt2: RenameAt2? = {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, "renameat2") else { return nil }
        return unsafeBitCast(address, to: RenameAt2.self)
    }()
    private static let exchangeFlag: UInt32 = 2  // RENAME_EXCHANGE
    private static let currentDirectory: Int32 = -100  // AT_FDCWD

    /// Swaps `a` and `b` in one step (both must exist). Returns false when the file system or kernel
    /// cannot (the caller then renames twice); throws on any other error.
    static func exchange(_ a: String, _ b: String) throws -> Bool {
        guard let renameAt2 else { return false }
        if renameAt2(currentDirectory, a, currentDirectory, b, exchangeFlag) == 0 { return true }
        let code = errno
        if code == EINVAL || code == ENOSYS || code == ENOTSUP { return false }
        throw InPlaceRestoreError("cannot exchange \(a) and \(b): \(errnoText(code))")
    }

    /// `rename(from, to)`, throwing an error that names both.
    static func move(_ from: String, _ to: String) throws {
        guard rename(from, to) == 0 else {
            throw InPlaceRestoreError("cannot rename \(from) to \(to): \(errnoText())")
        }
    }

    /// Puts `replacement` at `destination` and the tree that was there at `old`, with `destination`
    /// never missing when the file system can exchange.
    static func replace(_ destination: String, with replacement: String, keepingOldAt old: String) throws {
        if try exchange(replacement, destination) {
            try move(replacement, old)
        } else {
            try move(destination, old)
            do {
                try move(replacement, destination)
            } catch {
                try? move(old, destination)
                throw error
            }
        }
        LocalFiles.syncDirectory(LocalFiles.parent(of: destination))
    }

    /// Puts `old` back at `destination` and moves what is there now to `aside`.
    static func putBack(_ destination: String, from old: String, movingCurrentTo aside: String) throws {
        if LocalFiles.lstatOrNil(destination) != nil, try exchange(old, destination) {
            try move(old, aside)
        } else {
            if LocalFiles.lstatOrNil(destination) != nil { try move(destination, aside) }
            try move(old, destination)
        }
        LocalFiles.syncDirectory(LocalFiles.parent(of: destination))
    }

    /// Makes `copy` a second name of the file `original` (a hard link), or a copy where links are not
    /// possible.
    static func keepCopy(of original: String, at copy: String) throws {
        if link(original, copy) == 0 { return }
        let code = errno
        guard code == EPERM || code == EXDEV || code == EMLINK || code == ENOTSUP else {
            throw InPlaceRestoreError("cannot keep a copy of \(original) as \(copy): \(errnoText(code))")
        }
        do {
            try FileManager.default.copyItem(atPath: original, toPath: copy)
        } catch {
            throw InPlaceRestoreError("cannot keep a copy of \(original) as \(copy): \(error)")
        }
    }

    /// Creates the missing folders of `path` (mode 755); returns those it created, outermost first.
    static func makeParents(of path: String) throws -> [String] {
        var missing: [String] = []
        var folder = LocalFiles.parent(of: path)
        while folder != "/" && folder != "." && LocalFiles.lstatOrNil(folder) == nil {
            missing.insert(folder, at: 0)
            folder = LocalFiles.parent(of: folder)
        }
        for folder in missing where mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw InPlaceRestoreError("cannot create the folder \(folder): \(errnoText())")
        }
        return missing
    }

    /// Removes folders made by `makeParents` that are still empty, innermost first.
    static func removeEmpty(_ folders: [String]) {
        for folder in folders.reversed() { _ = rmdir(folder) }
    }
}

/// An in-place restore that could not be done, or could only be partly undone; the message says what
/// happened.
public struct InPlaceRestoreError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
