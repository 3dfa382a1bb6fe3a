import LifeboatCore

/// A store seen through a folder prefix: `name` becomes `prefix/name` on the underlying store.
public final class PrefixedStore: Store {
    public let base: any Store
    public let prefix: String

    /// `prefix` is normalised to `a/b` (no leading, trailing or doubled slashes).
    public init(_ base: any Store, prefix: String) {
        self.base = base
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
    }

    public var name: String { base.name }
    public var description: String { "\(base.description) under \(prefix)/" }

    private func full(_ objectName: String) -> String { prefix.isEmpty ? objectName : prefix + "/" + objectName }

    private func relative(_ object: StoredObject) -> StoredObject {
        var copy = object
        if !prefix.isEmpty { copy.name = String(object.name.dropFirst(prefix.count + 1)) }
        return copy
    }

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try ObjectName.validate(objectName)
        return PrefixedWriter(try base.makeWriter(for: full(objectName)), prefix: prefix)
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        try ObjectName.validate(objectName)
        try base.get(full(objectName), into: sink)
    }

    public func makeReader(for objectName: String) throws -> (any ByteSource)? {
        try ObjectName.validate(objectName)
        return try base.makeReader(for: full(objectName))
    }

    public func list(prefix listPrefix: String) throws -> [StoredObject] {
        try base.list(prefix: full(listPrefix)).map(relative)
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try ObjectName.validate(objectName)
        return try base.stat(full(objectName)).map(relative)
    }

    public func delete(_ objectName: String) throws {
        try ObjectName.validate(objectName)
        try base.delete(full(objectName))
    }

    public func removeIncomplete(prefix listPrefix: String) throws -> [String] {
        try base.removeIncomplete(prefix: full(listPrefix)).map {
            prefix.isEmpty ? $0 : String($0.dropFirst(prefix.count + 1))
        }
    }
}

final class PrefixedWriter: ObjectWriter {
    private let base: any ObjectWriter
    private let prefix: String

    init(_ base: any ObjectWriter, prefix: String) {
        self.base = base
        self.prefix = prefix
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try base.write(bytes) }

    func commit() throws -> StoredObject {
        var object = try base.commit()
        if !prefix.isEmpty { object.name = String(object.name.dropFirst(prefix.count + 1)) }
        return object
    }

    func abort() { base.abort() }
}
