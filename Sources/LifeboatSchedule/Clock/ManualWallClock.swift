import Foundation

/// A clock that only moves when told to, for tests.
// @unchecked Sendable: the only mutable state, `current`, is read and written under `lock`.
public final class ManualWallClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date) {
        self.current = start
    }

    public func now() -> Date {
        lock.withLock { current }
    }

    /// Moves the clock to `date` (backwards too, as a wall clock can).
    public func set(_ date: Date) {
        lock.withLock { current = date }
    }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }
}
