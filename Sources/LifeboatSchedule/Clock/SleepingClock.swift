import Foundation

/// A wall clock that can also wait until an instant: what the daemon's scheduler runs on.
///
/// Tests give the scheduler a ``ManualWallClock``, whose `sleep(until:)` jumps to the instant at once,
/// so a day of schedules runs in milliseconds.
public protocol SleepingClock: WallClock {
    /// Returns at `date` or soon after; throws `CancellationError` when the task is cancelled first.
    func sleep(until date: Date) async throws
}

extension SystemWallClock: SleepingClock {
    /// The longest single wait: the wall clock is read again at least this often, so that a clock
    /// set by hand or by NTP while the daemon waits delays a run by at most this much.
    public static let longestWait: TimeInterval = 300

    public func sleep(until date: Date) async throws {
        while true {
            let remaining = date.timeIntervalSince(now())
            if remaining <= 0 { return }
            let wait = min(remaining, Self.longestWait)
            try await Task.sleep(nanoseconds: UInt64((wait * 1e9).rounded(.up)))
        }
    }
}

extension ManualWallClock: SleepingClock {
    /// Moves the clock to `date` (if it is later) and returns after letting other tasks run.
    public func sleep(until date: Date) async throws {
        try Task.checkCancellation()
        if date > now() { set(date) }
        await Task.yield()
        try Task.checkCancellation()
    }
}
