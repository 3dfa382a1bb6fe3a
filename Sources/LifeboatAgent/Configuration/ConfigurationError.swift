/// A configuration mistake: names the file, the key path and the line.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    /// The key path, e.g. `stores[1].retention.keep_daily`; empty for the whole file.
    public var keyPath: String
    public var line: Int?
    public var message: String

    public init(file: String, keyPath: String, line: Int?, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}
