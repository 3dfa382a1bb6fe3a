#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatBackup

/// Prints bytes, rate and ETA on one line of standard error, at most five times a second.
/// Made only when standard error is a terminal; otherwise commands stay quiet.
public final class TerminalProgress: ProgressObserver {
    private let label: String
    private let start = Date()
    private var lastPrint = Date.distantPast
    private var printed = false

    public init(label: String) { self.label = label }

    /// A progress line for `label`, or nil when standard error is not a terminal.
    public static func ifTerminal(_ label: String) -> TerminalProgress? {
        isatty(2) == 1 ? TerminalProgress(label: label) : nil
    }

    public func progress(done: Int64, total: Int64?) {
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= 0.2 else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        let rate = Double(done) / elapsed
        var line = "\r\(label): \(ByteCount.format(done))"
        if let total, total > 0 {
            line += " of \(ByteCount.format(total))"
            let left = Double(max(total - done, 0)) / max(rate, 1)
            line += String(format: "  %@/s  ETA %d:%02d", ByteCount.format(Int64(rate)), Int(left) / 60, Int(left) % 60)
        } else {
            line += "  \(ByteCount.format(Int64(rate)))/s"
        }
        StandardError.write(line + "\u{1b}[K")
        printed = true
    }

    public func finished() {
        if printed { StandardError.write("\r\u{1b}[K") }
        printed = false
    }
}

/// Human byte counts: `512.0 MiB`.
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// Writes to file descriptor 2.
public enum StandardError {
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
