import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// A `files` component restored in place: each tree of the snapshot is staged beside its live
/// counterpart (same file system), then swapped in by rename; the live tree is kept as
/// `NAME.lifeboat-old` until every component succeeded.
///
/// What the live tree holds that the backup never covered — entries the source's include/exclude
/// globs leave out, sockets, FIFOs and devices — is hard-linked into the staged tree before the
/// swap, so a restore never loses what no snapshot held.
final class FileTreeReplacement: InPlaceComponent {
    struct Root {
        /// The live path (`/etc/asterisk`), a folder or a single file.
        var destination: String
        /// The restored copy, in the staging folder beside the destination.
        var staged: String
        /// Its path in the archive (`components/config/etc/asterisk`).
        var archivePath: String
    }

    private enum Step {
        case replaced(Int)
        case created(Int, parents: [String])
    }

    let name: String
    let roots: [Root]
    /// The configured source's globs: what the backup left out.
    private let filter: FileTreeScanner?
    private var steps: [Step] = []

    init(name: String, roots: [Root], include: [String], exclude: [String]) {
        self.name = name
        self.roots = roots
        filter =
            include.isEmpty && exclude.isEmpty
            ? nil : FileTreeScanner(component: name, include: include, exclude: exclude)
    }

    var destinations: [String] { roots.map(\.destination) }

    static func old(_ destination: String) -> String { destination + ".lifeboat-old" }

    func prepare() throws {
        for root in roots where LocalFiles.lstatOrNil(root.staged) == nil {
            throw InPlaceRestoreError("component '\(name)': \(root.archivePath) was not restored from the archive")
        }
    }

    func apply() throws -> String {
        var done: [String] = []
        for (index, root) in roots.enumerated() {
            let old = Self.old(root.destination)
            guard LocalFiles.lstatOrNil(old) == nil else {
                throw InPlaceRestoreError(
                    "component '\(name)': \(old) exists (left by an earlier in-place restore); look at it, then remove it"
                )
            }
            if let live = LocalFiles.lstatOrNil(root.destination) {
                guard (live.st_mode & S_IFMT) != S_IFLNK else {
                    throw InPlaceRestoreError(
                        "component '\(name)': \(root.destination) is now a symbolic link; replacing it would put the restored tree beside the data it points to. Restore with --target and move it by hand"
                    )
                }
                var carried = 0
                if Self.isDirectory(live), let staged = LocalFiles.lstatOrNil(root.staged), Self.isDirectory(staged) {
                    carried = try carryOver(live: root.destination, staged: root.staged, relative: "", makeStaged: {})
                }
                try FileSwap.replace(root.destination, with: root.staged, keepingOldAt: old)
                steps.append(.replaced(index))
                done.append(
                    "\(root.destination) replaced"
                        + (carried > 0
                            ? " (kept \(carried) live entr\(carried == 1 ? "y" : "ies") the snapshot does not cover)"
                            : ""))
            } else {
                let parents = try FileSwap.makeParents(of: root.destination)
                do {
                    try FileSwap.move(root.staged, root.destination)
                } catch {
                    FileSwap.removeEmpty(parents)
                    throw error
                }
                LocalFiles.syncDirectory(LocalFiles.parent(of: root.destination))
                steps.append(.created(index, parents: parents))
                done.append("\(root.destination) created")
            }
        }
        return done.joined(separator: "; ")
    }

    func undo() -> (putBack: [String], problems: [String]) {
        var putBack: [String] = []
        var problems: [String] = []
        for step in steps.reversed() {
            switch step {
            case .replaced(let index):
                let root = roots[index]
                do {
                    try FileSwap.putBack(
                        root.destination, from: Self.old(root.destination), movingCurrentTo: root.staged)
                    putBack.append("\(root.destination) as it was")
                } catch {
                    problems.append(
                        "\(root.destination): \(error); the tree that was there is at \(Self.old(root.destination))")
                }
            case .created(let index, let parents):
                let root = roots[index]
                do {
                    try FileSwap.move(root.destination, root.staged)
                    FileSwap.removeEmpty(parents)
                    putBack.append("\(root.destination) removed again (it did not exist)")
                } catch {
                    problems.append("\(root.destination) (restored where nothing was) could not be removed: \(error)")
                }
            }
        }
        steps = []
        return (putBack, problems)
    }

    func commit() -> [String] {
        var problems: [String] = []
        for case .replaced(let index) in steps {
            let old = Self.old(roots[index].destination)
            LocalFiles.removeTree(old)
            if LocalFiles.lstatOrNil(old) != nil { problems.append("\(old) could not be removed completely") }
        }
        steps = []
        return problems
    }

    func discard() {}

    // MARK: What the snapshot does not cover

    /// Links into the staged tree what the live folder holds that the backup did not cover; returns
    /// how many entries (a carried folder counts once). `makeStaged` creates the staged folder's
    /// missing ancestors first.
    private func carryOver(live: String, staged: String, relative: String, makeStaged: () throws -> Void) throws
        -> Int
    {
        var count = 0
        var stagedReady = LocalFiles.lstatOrNil(staged) != nil
        func ensureStaged() throws {
            if stagedReady { return }
            try makeStaged()
            try Self.makeFolder(staged, like: live)
            stagedReady = true
        }
        let names: [String]
        do {
            names = try LocalFiles.listDirectory(live)
        } catch {
            throw InPlaceRestoreError("component '\(name)': \(error)")
        }
        for entry in names {
            let from = live + "/" + entry
            let to = staged + "/" + entry
            let rel = relative.isEmpty ? entry : relative + "/" + entry
            guard let st = LocalFiles.lstatOrNil(from) else { continue }
            let kind = st.st_mode & S_IFMT
            let excluded = filter?.isExcluded(rel, name: entry) ?? false
            if kind == S_IFDIR && !excluded {
                if let there = LocalFiles.lstatOrNil(to), !Self.isDirectory(there) { continue }
                count += try carryOver(live: from, staged: to, relative: rel, makeStaged: ensureStaged)
                continue
            }
            let covered =
                !excluded && (kind == S_IFREG || kind == S_IFLNK) && (filter?.isIncluded(rel, name: entry) ?? true)
            if covered || LocalFiles.lstatOrNil(to) != nil { continue }
            try ensureStaged()
            try clone(from, to)
            count += 1
        }
        return count
    }

    /// A second name for a whole entry: folders re-created, everything else hard-linked.
    private func clone(_ from: String, _ to: String) throws {
        guard let st = LocalFiles.lstatOrNil(from) else { return }
        if Self.isDirectory(st) {
            try Self.makeFolder(to, like: from)
            for entry in try LocalFiles.listDirectory(from) { try clone(from + "/" + entry, to + "/" + entry) }
        } else {
            try FileSwap.keepCopy(of: from, at: to)
        }
    }

    private static func makeFolder(_ path: String, like original: String) throws {
        guard let st = LocalFiles.lstatOrNil(original) else { return }
        guard mkdir(path, st.st_mode & 0o7777) == 0 else {
            throw InPlaceRestoreError("cannot create the folder \(path): \(errnoText())")
        }
        _ = lchown(path, st.st_uid, st.st_gid)
        _ = chmod(path, st.st_mode & 0o7777)
    }

    private static func isDirectory(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
}
