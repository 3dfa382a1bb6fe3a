import Foundation

/// Where the current time comes from, so that schedules are tested with injected instants.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

extension WallClock where Self == SystemWallClock {
    /// The system's real-time clock.
    public static var system: SystemWallClock { SystemWallClock() }
}
