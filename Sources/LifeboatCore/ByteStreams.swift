/// A push-style consumer of bytes: an encryptor, a hasher, a file, an upload.
///
/// Sinks are used from one thread at a time; they are not `Sendable`.
public protocol ByteSink: AnyObject {
    /// Consumes all of `bytes` or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// A pull-style producer of bytes: a file, a download, a decryptor.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer` and returns how many; 0 means the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteSink {
    /// Writes a byte array.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes a string's UTF-8 bytes.
    public func write(_ string: String) throws {
        try write(Array(string.utf8))
    }
}

extension ByteSource {
    /// Reads until `buffer` is full or the source ends; returns how many bytes were read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads everything that is left, refusing more than `limit` bytes.
    public func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return result }
            if result.count + n > limit {
                throw StreamLimitExceeded(limit: limit)
            }
            result.append(contentsOf: chunk[0..<n])
        }
    }

    /// Copies everything that is left into `sink`, in chunks of `chunkSize`; returns the byte count.
    @discardableResult
    public func copy(to sink: any ByteSink, chunkSize: Int = 64 << 10) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = try read(into: buffer)
            if n == 0 { return total }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
    }
}

/// Thrown by `readAll(limit:)` when a stream is longer than allowed.
public struct StreamLimitExceeded: Error, CustomStringConvertible {
    public var limit: Int
    public var description: String { "stream longer than the limit of \(limit) bytes" }
}

/// A source over bytes in memory.
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        if n > 0 {
            bytes.withUnsafeBytes { src in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n)]))
            }
            offset += n
        }
        return n
    }
}

/// A sink that collects bytes in memory.
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }
}

/// A sink that counts bytes and forwards them.
public final class CountingSink: ByteSink {
    private let next: any ByteSink
    public private(set) var count: Int64 = 0

    public init(_ next: any ByteSink) { self.next = next }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try next.write(bytes)
        count += Int64(bytes.count)
    }
}
