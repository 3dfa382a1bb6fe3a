/// One entry of a folder listing, as a store built on folders (local, FTP, SFTP) sees it.
struct FolderEntry: Equatable {
    enum Kind: Equatable { case file, directory, other }
    var name: String
    var kind: Kind
    var size: Int64
    /// Seconds since 1970, when the listing says.
    var modified: Int64?
}

/// Lists the objects under a prefix on a store made of folders: starts at the deepest folder the
/// prefix names completely, enters only folders that can hold matching names, and returns regular
/// files whose names start with the prefix, in name order.
enum FolderWalk {
    /// `list` returns the entries of a folder given relative to the store's root (`""` for the
    /// root); a folder that does not exist has none.
    static func objects(prefix: String, list: (String) throws -> [FolderEntry]) throws -> [StoredObject] {
        let start = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        var found: [StoredObject] = []
        var pending = [start]
        while let folder = pending.popLast() {
            for entry in try list(folder) {
                let path = folder.isEmpty ? entry.name : folder + "/" + entry.name
                switch entry.kind {
                case .file where path.hasPrefix(prefix):
                    found.append(StoredObject(name: path, size: entry.size, modified: entry.modified))
                case .directory where path.hasPrefix(prefix) || prefix.hasPrefix(path + "/"):
                    pending.append(path)
                default:
                    continue
                }
            }
        }
        return found.sorted { $0.name < $1.name }
    }
}
