import LifeboatCore

/// A source that reads from `input` and hashes with SHA-256 everything that passes through.
public final class HashingSource: ByteSource {
    private let input: any ByteSource
    private let hasher = SHA256Hasher()

    /// How many bytes were read through this source.
    public private(set) var byteCount: Int64 = 0

    public init(_ input: any ByteSource) { self.input = input }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try input.read(into: buffer)
        if n > 0 {
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            byteCount += Int64(n)
        }
        return n
    }

    /// The SHA-256 of everything read so far; call after the source is exhausted.
    public func finalize() -> [UInt8] { hasher.finalize() }
}
