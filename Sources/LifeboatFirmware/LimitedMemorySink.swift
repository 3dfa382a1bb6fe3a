import LifeboatCore

/// Collects a response body in memory, refusing the write that would take it over `limit`: an
/// oversized answer is abandoned after at most one network read past the limit, not read to its end.
final class LimitedMemorySink: ByteSink {
    /// Thrown by `write` when the body would grow past `limit`.
    struct LimitExceeded: Error, CustomStringConvertible {
        var limit: Int
        var description: String { "the body is larger than the limit of \(limit) bytes" }
    }

    let limit: Int
    private(set) var bytes: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard self.bytes.count + bytes.count <= limit else { throw LimitExceeded(limit: limit) }
        self.bytes.append(contentsOf: bytes)
    }
}
