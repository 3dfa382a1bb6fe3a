import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real servers that `packaging/test-servers.sh start` runs on 127.0.0.1, as described by the
/// `servers.env` file it writes (`KEY=VALUE` lines, absolute paths).
///
/// The folder is `$LIFEBOAT_TEST_SERVERS`, else `/tmp/lifeboat-servers`. Tests that need a server
/// call ``load()`` and fail (never skip) when the file is missing, so a run without servers cannot
/// pass by testing nothing.
struct TestServers {
    /// The folder holding `servers.env`.
    let directory: String
    private let values: [String: String]

    /// A missing `servers.env` or key, with what to do about it.
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    static func load() throws -> TestServers {
        let directory = ProcessInfo.processInfo.environment["LIFEBOAT_TEST_SERVERS"] ?? "/tmp/lifeboat-servers"
        let file = directory + "/servers.env"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Missing(
                description: "\(file) is missing: the test servers are not running; run packaging/test-servers.sh start"
            )
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return TestServers(directory: directory, values: values)
    }

    /// The value of `key`; throws when servers.env does not have it.
    subscript(key: String) -> String {
        get throws {
            guard let value = values[key] else {
                throw Missing(
                    description: "\(directory)/servers.env has no \(key): run packaging/test-servers.sh start again")
            }
            return value
        }
    }

    /// A port number from servers.env.
    func port(_ key: String) throws -> Int {
        guard let port = Int(try self[key]) else { throw Missing(description: "\(key) in servers.env is not a port") }
        return port
    }

    /// A TCP port on 127.0.0.1 where nothing listens: bound to find a free one, then closed.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw Missing(description: "no free TCP port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The contents of the file a key names, e.g. a password file (`SSH_PASSWORD_FILE`).
    func contents(ofFileIn key: String) throws -> String {
        try String(contentsOfFile: try self[key], encoding: .utf8)
    }
}
