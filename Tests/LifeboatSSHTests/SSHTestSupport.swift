import Foundation
import LifeboatCore
import LifeboatSSH

#if canImport(Glibc)
    import Glibc
#endif

/// Settings and tools for the tests against the sshd that `packaging/test-servers.sh` starts.
enum SSHTestSupport {
    /// A session configuration for the main sshd (or `portKey`'s) with the ed25519 key, unless
    /// told otherwise.
    static func configuration(
        _ servers: TestServers, authentication: SSHAuthentication? = nil, knownHostsKey: String = "SSH_KNOWN_HOSTS",
        portKey: String = "SSHD_PORT", connectTimeout: Double = 10
    ) throws -> SSHSessionConfiguration {
        SSHSessionConfiguration(
            host: "127.0.0.1", port: try servers.port(portKey), username: try servers["SSH_USER"],
            authentication: try authentication ?? .privateKey(path: servers["SSH_KEY_ED25519"], passphrase: nil),
            knownHostsFile: try servers[knownHostsKey], connectTimeout: connectTimeout)
    }

    /// The SHA-256 fingerprints (`SHA256:…`) of every host key the server has, from its public key
    /// files, computed by `ssh-keygen -lf` — independently of libssh.
    static func hostKeyFingerprints(_ servers: TestServers) throws -> [String] {
        let ed25519 = try servers["SSH_HOST_KEY_ED25519_PUB"]
        var result: [String] = []
        for type in ["ed25519", "rsa", "ecdsa"] {
            let file = ed25519.replacingOccurrences(of: "ssh_host_ed25519_key", with: "ssh_host_\(type)_key")
            guard FileManager.default.fileExists(atPath: file) else { continue }
            let output = try run(["ssh-keygen", "-lf", file])
            // "256 SHA256:abc… comment (ED25519)"
            let fields = output.split(separator: " ")
            if fields.count > 1, fields[1].hasPrefix("SHA256:") { result.append(String(fields[1])) }
        }
        return result
    }

    /// Runs a tool found on PATH and returns its standard output; throws when it fails.
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestServers.Missing(
                description: "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A socket listening on 127.0.0.1 at a free port: the kernel accepts connections that nobody ever
/// answers (a server that never sends its SSH banner).
final class ListeningSocket {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, bound, listen(fd, 16) == 0 else {
            throw TestServers.Missing(description: "cannot bind a test socket: \(String(cString: strerror(errno)))")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
