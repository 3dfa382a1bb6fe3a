import Foundation

/// Wakes a thread that waits for "something changed" (new events recorded, a configuration
/// reloaded) without polling: a counter under a condition variable.
public final class ChangeSignal: @unchecked Sendable {
    // @unchecked: `generation` is only read and written under `condition`.
    private let condition = NSCondition()
    private var generation: UInt64 = 0

    public init() {}

    /// The current generation, to pass to ``wait(after:until:)``.
    public var current: UInt64 { condition.withLock { generation } }

    /// Wakes every waiter.
    public func signal() {
        condition.withLock {
            generation &+= 1
            condition.broadcast()
        }
    }

    /// Waits until the generation moves past `seen` or `deadline` passes; returns the generation.
    @discardableResult
    public func wait(after seen: UInt64, until deadline: Date) -> UInt64 {
        condition.withLock {
            while generation == seen {
                if !condition.wait(until: deadline) { break }
            }
            return generation
        }
    }
}
