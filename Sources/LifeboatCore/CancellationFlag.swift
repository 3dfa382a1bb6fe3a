import Foundation

/// Lets one thread ask work running on another thread to stop at its next safe point.
///
/// Blocking pipelines (a backup streaming through tar, zstd and age into stores) cannot use Swift task
/// cancellation: they run on threads of their own. They check this flag between pieces of work.
public final class CancellationFlag: @unchecked Sendable {
    // @unchecked: `reason` is only read and written under `lock`.
    private let lock = NSLock()
    private var reason: String?

    public init() {}

    /// Asks the work to stop; the first reason given is kept.
    public func cancel(reason: String) {
        lock.withLock {
            if self.reason == nil { self.reason = reason }
        }
    }

    public var isCancelled: Bool { lock.withLock { reason != nil } }

    /// Why the work was asked to stop, or nil.
    public var cancellationReason: String? { lock.withLock { reason } }
}
