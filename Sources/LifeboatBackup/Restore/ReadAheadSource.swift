import Foundation
import LifeboatCore

/// Reads an upstream source on its own thread, a few blocks ahead of the consumer.
///
/// Restore uses it so that reading, hashing and decrypting the archive run on one core while
/// decompression, extraction and file hashing run on another. Upstream errors reach the consumer in
/// order, after every block read before them. Memory is bounded by `blockCount × blockSize`.
final class ReadAheadSource: ByteSource, @unchecked Sendable {
    // Safe: the upstream is touched only by the producer thread; every shared field is guarded by
    // `condition`; the consumer side is used from one thread at a time, as every ByteSource is.
    private let condition = NSCondition()
    private var blocks: [[UInt8]] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private let blockCount: Int
    private let blockSize: Int
    private var current: [UInt8] = []
    private var offset = 0
    /// Bytes handed to the consumer so far (consumer side only).
    private(set) var consumed: Int64 = 0
    private let stopped = DispatchSemaphore(value: 0)

    init(_ upstream: any ByteSource, blockSize: Int = 256 << 10, blockCount: Int = 8) {
        self.blockSize = blockSize
        self.blockCount = blockCount
        let box = UpstreamBox(upstream)
        let thread = Thread { [self] in
            produce(box.source)
            stopped.signal()
        }
        thread.name = "lifeboat-read-ahead"
        thread.start()
    }

    deinit {
        condition.withLock {
            cancelled = true
            condition.broadcast()
        }
        stopped.wait()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if offset == current.count {
            condition.lock()
            while blocks.isEmpty && !finished { condition.wait() }
            if blocks.isEmpty {
                let error = failure
                condition.unlock()
                if let error { throw error }
                return 0
            }
            current = blocks.removeFirst()
            offset = 0
            condition.broadcast()
            condition.unlock()
        }
        let n = min(buffer.count, current.count - offset)
        current.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
        offset += n
        consumed += Int64(n)
        return n
    }

    private func produce(_ upstream: any ByteSource) {
        while true {
            var block = [UInt8](repeating: 0, count: blockSize)
            let count: Int
            do {
                count = try block.withUnsafeMutableBytes { try upstream.readFully(into: $0) }
            } catch {
                condition.withLock {
                    failure = error
                    finished = true
                    condition.broadcast()
                }
                return
            }
            block.removeLast(blockSize - count)
            condition.lock()
            while blocks.count >= blockCount && !cancelled { condition.wait() }
            if cancelled {
                condition.unlock()
                return
            }
            if count > 0 { blocks.append(block) }
            if count < blockSize { finished = true }
            condition.broadcast()
            condition.unlock()
            if count < blockSize { return }
        }
    }
}

/// Carries the upstream source to the producer thread, which becomes its only user.
private struct UpstreamBox: @unchecked Sendable {
    let source: any ByteSource
    init(_ source: any ByteSource) { self.source = source }
}
