import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A process as the kernel knows it: its pid, when it started, and in which boot.
///
/// A pid alone is not enough to tell whether the process that recorded a run still exists: pids are
/// reused, and after a reboot (or a container restart) the same pid is another process. The start
/// time (clock ticks after boot, field 22 of `/proc/PID/stat`) and the boot id
/// (`/proc/sys/kernel/random/boot_id`) together name one process for good.
public struct ProcessIdentity: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    /// Clock ticks after boot at which the process started; 0 where `/proc` is not available.
    public var startTime: UInt64
    /// The kernel's boot id; empty where `/proc` is not available.
    public var bootID: String

    public init(pid: Int32, startTime: UInt64, bootID: String) {
        self.pid = pid
        self.startTime = startTime
        self.bootID = bootID
    }

    /// This process.
    public static var current: ProcessIdentity {
        of(pid: getpid()) ?? ProcessIdentity(pid: getpid(), startTime: 0, bootID: bootID)
    }

    /// The live process with this pid, or nil when there is none (or only a zombie is left of it).
    public static func of(pid: Int32) -> ProcessIdentity? {
        guard pid > 0 else { return nil }
        guard let stat = readProcFile("/proc/\(pid)/stat") else {
            // No procfs: fall back to asking the kernel whether the pid exists at all.
            if !FileManager.default.fileExists(atPath: "/proc/self/stat") {
                return kill(pid, 0) == 0 || errno == EPERM ? ProcessIdentity(pid: pid, startTime: 0, bootID: "") : nil
            }
            return nil
        }
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); the start time is field 22.
        guard fields.count > 19, let start = UInt64(fields[19]) else { return nil }
        if fields[0] == "Z" || fields[0] == "X" { return nil }
        return ProcessIdentity(pid: pid, startTime: start, bootID: bootID)
    }

    /// True when the process this identity names is still running.
    public var isRunning: Bool {
        guard let now = Self.of(pid: pid) else { return false }
        if bootID.isEmpty || now.bootID.isEmpty || startTime == 0 { return true }  // no procfs: pid only
        return now == self
    }

    /// This boot's id, read once.
    public static let bootID: String = {
        (readProcFile("/proc/sys/kernel/random/boot_id") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    public var description: String { "pid \(pid)" }

    /// Reads a small file that reports size 0 (procfs), to its end.
    private static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
