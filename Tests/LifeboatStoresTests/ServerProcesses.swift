import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Finds and kills the processes of a test server that serve one connection, to simulate a server
/// dying in the middle of a transfer without disturbing other tests using the same server.
enum ServerProcesses {
    /// The pid in a server's pid file.
    static func masterPID(pidFile: String) throws -> pid_t {
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        return try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Every process below a server's master process (per-connection processes).
    static func descendants(of masterPID: pid_t) throws -> [pid_t] {
        var parents: [pid_t: pid_t] = [:]
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // "pid (comm) state ppid …": the command may contain spaces, so parse after the last ')'.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { parents[pid] = ppid }
        }
        func descends(_ pid: pid_t) -> Bool {
            var current = parents[pid]
            while let parent = current, parent > 1 {
                if parent == masterPID { return true }
                current = parents[parent]
            }
            return false
        }
        return parents.keys.filter(descends).sorted()
    }

    /// SIGKILLs the processes below `masterPID` that have `path` open; returns their pids.
    static func killHolders(of path: String, masterPID: pid_t) throws -> [pid_t] {
        var killed: [pid_t] = []
        for pid in try descendants(of: masterPID) {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let holds = fds.contains {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == path
            }
            if holds {
                kill(pid, SIGKILL)
                killed.append(pid)
            }
        }
        return killed
    }
}
