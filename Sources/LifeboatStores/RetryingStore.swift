#if canImport(Glibc)
    import Glibc
#endif
import LifeboatCore
import Logging

/// When and how often to try a failed store operation again.
public struct RetryPolicy: Sendable {
    /// Tries in all, the first included.
    public var attempts: Int
    public var initialDelay: Double
    public var maxDelay: Double

    public init(attempts: Int = 4, initialDelay: Double = 1, maxDelay: Double = 30) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// The wait before try number `attempt + 1`: exponential backoff with full jitter, or what the
    /// server asked for (`Retry-After`) when that is longer.
    public func delay(afterAttempt attempt: Int, serverAsked: Double? = nil) -> Double {
        let ceiling = min(maxDelay, initialDelay * Double(1 << min(attempt - 1, 20)))
        let jittered = Double.random(in: (ceiling / 2)...max(ceiling / 2, ceiling))
        return max(jittered, min(serverAsked ?? 0, maxDelay * 4))
    }
}

/// Runs an operation, trying again after retryable store errors as a ``RetryPolicy`` says; shared
/// by ``RetryingStore`` and the stores that retry pieces of one upload (S3 parts, GCS chunks).
public struct Retrier: Sendable {
    public let policy: RetryPolicy
    let logger: Logger?
    let sleep: @Sendable (Double) -> Void

    public init(
        policy: RetryPolicy = RetryPolicy(), logger: Logger? = nil,
        sleep: @escaping @Sendable (Double) -> Void = { usleep(useconds_t($0 * 1_000_000)) }
    ) {
        self.policy = policy
        self.logger = logger
        self.sleep = sleep
    }

    /// Runs `body`, trying again after retryable store errors; `store` and `what` name it in logs.
    public func run<T>(_ what: String, store: String, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch let error as StoreError where error.code.isRetryable && attempt < policy.attempts {
                let wait = policy.delay(afterAttempt: attempt, serverAsked: error.retryAfter)
                logger?.warning(
                    "Store operation failed; trying again",
                    metadata: [
                        "store": "\(store)", "operation": "\(what)", "attempt": "\(attempt)",
                        "wait_seconds": "\(Int(wait.rounded(.up)))", "error": "\(error)",
                    ])
                sleep(wait)
                attempt += 1
            }
        }
    }
}

/// Tries a store's operations again when they fail with a retryable error (the store could not be
/// reached, the connection broke, the server answered with a transient failure) — never after a
/// refused login, a missing object or an integrity failure.
///
/// An upload in progress is not replayed: once bytes have gone to a writer, a failure ends that
/// upload (the caller holds the stream, not this decorator); opening the upload and every other
/// operation are retried.
public final class RetryingStore: Store {
    public let base: any Store
    private let retrier: Retrier

    public init(
        _ base: any Store, policy: RetryPolicy = RetryPolicy(), logger: Logger? = nil,
        sleep: @escaping @Sendable (Double) -> Void = { usleep(useconds_t($0 * 1_000_000)) }
    ) {
        self.base = base
        self.retrier = Retrier(policy: policy, logger: logger, sleep: sleep)
    }

    public var policy: RetryPolicy { retrier.policy }

    public var name: String { base.name }
    public var description: String { base.description }

    /// Runs `body`, trying again after retryable store errors.
    public func retrying<T>(_ what: String, _ body: () throws -> T) throws -> T {
        try retrier.run(what, store: base.name, body)
    }

    public func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try retrying("upload of \(objectName)") { try base.makeWriter(for: objectName) }
    }

    public func get(_ objectName: String, into sink: any ByteSink) throws {
        let counting = CountingSink(sink)
        try retrying("download of \(objectName)") {
            do {
                try base.get(objectName, into: counting)
            } catch let error as StoreError where counting.count > 0 && error.code.isRetryable {
                // Bytes already reached the sink: starting over would duplicate them.
                throw StoreError(.io, error.message, underlying: error.underlying)
            }
        }
    }

    public func makeReader(for objectName: String) throws -> (any ByteSource)? {
        try retrying("download of \(objectName)") { try base.makeReader(for: objectName) }
    }

    public func list(prefix: String) throws -> [StoredObject] {
        try retrying("listing") { try base.list(prefix: prefix) }
    }

    public func stat(_ objectName: String) throws -> StoredObject? {
        try retrying("stat of \(objectName)") { try base.stat(objectName) }
    }

    public func delete(_ objectName: String) throws {
        try retrying("delete of \(objectName)") { try base.delete(objectName) }
    }

    public func removeIncomplete(prefix: String) throws -> [String] {
        try retrying("cleanup") { try base.removeIncomplete(prefix: prefix) }
    }
}
