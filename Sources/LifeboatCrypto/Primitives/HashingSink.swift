import LifeboatCore

/// A sink that forwards everything to `next` and hashes it with SHA-256 on the way.
public final class HashingSink: ByteSink {
    private let next: any ByteSink
    private let hasher = SHA256Hasher()

    /// How many bytes were forwarded.
    public private(set) var byteCount: Int64 = 0

    public init(_ next: any ByteSink) { self.next = next }

    /// Forwards `bytes` to the next sink, then hashes them (only bytes the next sink accepted).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try next.write(bytes)
        hasher.update(bytes)
        byteCount += Int64(bytes.count)
    }

    /// The SHA-256 of everything forwarded.
    public func finalize() -> [UInt8] { hasher.finalize() }
}
