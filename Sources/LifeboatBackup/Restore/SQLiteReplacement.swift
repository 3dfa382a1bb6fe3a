import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// A `sqlite` component restored in place: the restored copy, staged beside the live database and
/// checked with `PRAGMA integrity_check`, replaces it by rename.
///
/// The live database's `-wal`, `-shm` and `-journal` files are moved aside with it (an old
/// write-ahead log applied to the restored file would corrupt it), and the original is kept as
/// `NAME.lifeboat-old` (with `NAME.lifeboat-old-wal`, …, a consistent pair) until every component
/// succeeded.
final class SQLiteReplacement: InPlaceComponent {
    static let companions = ["-wal", "-shm", "-journal"]

    let name: String
    let destination: String
    let staged: String
    private var old: String { destination + ".lifeboat-old" }
    private var movedCompanions: [String] = []
    private var keptOriginal = false
    private var replaced = false
    private var createdParents: [String] = []
    private(set) var integrity: String?

    init(name: String, destination: String, staged: String) {
        self.name = name
        self.destination = destination
        self.staged = staged
    }

    var destinations: [String] { [destination] }

    func prepare() throws {
        guard LocalFiles.lstatOrNil(staged) != nil else {
            throw InPlaceRestoreError("component '\(name)': its database file was not restored from the archive")
        }
        let result: String
        do {
            result = try SQLiteSnapshotter.integrityCheck(path: staged)
        } catch {
            throw InPlaceRestoreError("component '\(name)': the restored database cannot be checked: \(error)")
        }
        guard result == "ok" else {
            throw InPlaceRestoreError("component '\(name)': the restored database fails integrity_check: \(result)")
        }
        integrity = result
    }

    func apply() throws -> String {
        if let st = LocalFiles.lstatOrNil(destination), (st.st_mode & S_IFMT) != S_IFREG {
            let what = (st.st_mode & S_IFMT) == S_IFDIR ? "a folder" : "not a regular file"
            throw InPlaceRestoreError("component '\(name)': \(destination) is \(what), not a database file")
        }
        for suffix in [""] + Self.companions where LocalFiles.lstatOrNil(old + suffix) != nil {
            throw InPlaceRestoreError(
                "component '\(name)': \(old + suffix) exists (left by an earlier in-place restore); look at it, then remove it"
            )
        }
        for suffix in Self.companions where LocalFiles.lstatOrNil(destination + suffix) != nil {
            try FileSwap.move(destination + suffix, old + suffix)
            movedCompanions.append(suffix)
        }
        if LocalFiles.lstatOrNil(destination) != nil {
            try FileSwap.keepCopy(of: destination, at: old)
            keptOriginal = true
        } else {
            createdParents = try FileSwap.makeParents(of: destination)
        }
        try FileSwap.move(staged, destination)
        replaced = true
        LocalFiles.syncDirectory(LocalFiles.parent(of: destination))
        return "\(destination) \(keptOriginal ? "replaced" : "created") (integrity_check ok)"
    }

    func undo() -> (putBack: [String], problems: [String]) {
        var problems: [String] = []
        if replaced {
            // Whatever the restored database grew beside it must not meet the original.
            for suffix in Self.companions { _ = unlink(destination + suffix) }
            if keptOriginal {
                if rename(old, destination) != 0 {
                    problems.append("\(destination): cannot put the original back from \(old): \(errnoText())")
                }
            } else if unlink(destination) != 0 {
                problems.append("\(destination) (restored where none was) could not be removed: \(errnoText())")
            }
            FileSwap.removeEmpty(createdParents)
        } else if keptOriginal {
            _ = unlink(old)  // the second name made before the replacement; the original is untouched
        }
        for suffix in movedCompanions.reversed() where rename(old + suffix, destination + suffix) != 0 {
            problems.append("\(destination + suffix): cannot put it back from \(old + suffix): \(errnoText())")
        }
        let putBack = replaced || !movedCompanions.isEmpty ? ["\(destination) as it was"] : []
        replaced = false
        keptOriginal = false
        movedCompanions = []
        return (problems.isEmpty ? putBack : [], problems)
    }

    func commit() -> [String] {
        var problems: [String] = []
        for suffix in [""] + Self.companions where LocalFiles.lstatOrNil(old + suffix) != nil {
            if unlink(old + suffix) != 0 { problems.append("\(old + suffix) could not be removed: \(errnoText())") }
        }
        replaced = false
        keptOriginal = false
        movedCompanions = []
        return problems
    }

    func discard() {}
}
