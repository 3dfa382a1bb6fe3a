import Foundation
import LifeboatCore

/// Records events from many concurrent senders with group commit: while one transaction is being
/// written, new events wait, and the next transaction takes all of them. Each sender resumes only
/// when its event is on disk, yet the fsyncs per second stay bounded, whatever the request rate.
public actor EventRecorder {
    private let state: StateDatabase
    private var pending: [(event: Event, done: CheckedContinuation<Void, any Error>)] = []
    private var writing = false

    public init(state: StateDatabase) {
        self.state = state
    }

    /// Returns once `event` is durably recorded (or was already, under the same id).
    public func record(_ event: Event) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pending.append((event, continuation))
            if !writing {
                writing = true
                Task { await drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            let state = self.state
            // The write blocks (fsync): off the actor, on a thread of its own, so senders keep queueing.
            let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, any Error>, Never>) in
                let thread = Thread {
                    continuation.resume(returning: Result { _ = try state.recordEvents(batch.map(\.event)) })
                }
                thread.start()
            }
            for item in batch { item.done.resume(with: result) }
        }
        writing = false
    }
}
