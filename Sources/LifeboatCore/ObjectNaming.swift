import Foundation

/// Object names on a store: `<prefix>/<host>/<job>/<YYYYMMDDTHHMMSSZ>-<id><ext>` and `….json`.
public struct ObjectNaming: Sendable, Hashable {
    public static let sidecarExtension = ".json"

    /// Store-wide prefix (may be empty).
    public var prefix: String

    public init(prefix: String) {
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
    }

    /// The folder of one host's job.
    public func jobPrefix(host: String, job: String) -> String {
        join([prefix, host, job]) + "/"
    }

    /// The archive name of a snapshot.
    public func archiveName(host: String, job: String, created: Date, id: SnapshotID, extension ext: String) -> String {
        join([prefix, host, job, "\(Timestamp.compact(created))-\(id)\(ext)"])
    }

    /// The sidecar name that belongs to an archive name.
    public static func sidecarName(forArchive archive: String) -> String {
        stem(of: archive) + sidecarExtension
    }

    /// The stem (`<time>-<id>`) of an archive or sidecar name, with its folder.
    public static func stem(of name: String) -> String {
        let base = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        guard let dot = name[base...].firstIndex(of: ".") else { return name }
        return String(name[..<dot])
    }

    /// Parses `<time>-<id>` from the last path component of an object name.
    public static func parse(_ name: String) -> (created: Date, id: SnapshotID)? {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        let stem = base.split(separator: ".", maxSplits: 1).first.map(String.init) ?? base
        let parts = stem.split(separator: "-")
        guard parts.count == 2, let date = Timestamp.parseCompact(String(parts[0])),
            let id = SnapshotID(String(parts[1]))
        else { return nil }
        return (date, id)
    }

    private func join(_ parts: [String]) -> String {
        parts.filter { !$0.isEmpty }.joined(separator: "/")
    }
}
