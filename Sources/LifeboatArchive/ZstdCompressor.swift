import CZstd
import Foundation
import LifeboatCore

/// zstd compression through libzstd: the stream is cut into frames of `frameSize` bytes, compressed
/// in parallel by `threads` workers and written in order; every frame carries a content checksum.
///
/// Concatenated frames are one valid zstd stream (`zstd -d`, `tar --zstd`, libarchive read it as
/// one). libarchive 3.6.2's zstd filter can set neither the checksum nor a small job size, and
/// libzstd's own multithreaded mode gave no speed-up with Debian's shared library on two cores while
/// costing tens of MiB; independent frames on our own threads use every core with memory bounded by
/// `(threads + 1) × 2 × frameSize`. With one thread, frames are compressed on the calling thread.
final class ZstdCompressor {
    /// Input bytes per frame: zstd level 3's window is 2 MiB, so 2 MiB frames lose little ratio.
    static let frameSize = 2 << 20

    private let level: Int32
    private let pool: FramePool?
    private let inline: FrameBuffers?
    private var filling: FrameBuffers
    private var submitted = 0
    private var delivered = 0

    init(level: Int, threads: Int) throws {
        self.level = Int32(level)
        // Validate the level once, with zstd's own message on failure.
        let probe = try CompressionContext(level: self.level)
        if threads > 1 {
            let pool = FramePool(workers: threads, level: self.level, frameSize: Self.frameSize)
            self.pool = pool
            inline = nil
            filling = pool.takeFree()
        } else {
            pool = nil
            let buffers = FrameBuffers(frameSize: Self.frameSize, context: probe)
            inline = buffers
            filling = buffers
        }
    }

    deinit { pool?.stop() }

    /// Compresses `input`, handing finished frames to `deliver` in order.
    func compress(_ input: UnsafeRawBufferPointer, deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while offset < input.count {
            let n = min(input.count - offset, filling.input.count - filling.filled)
            UnsafeMutableRawBufferPointer(rebasing: filling.input[filling.filled..<(filling.filled + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<(offset + n)]))
            filling.filled += n
            offset += n
            if filling.filled == filling.input.count {
                try submit(deliver: deliver)
            }
        }
    }

    /// Compresses what is left and hands every remaining frame to `deliver`.
    func finish(deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        if filling.filled > 0 || submitted == 0 {
            try submit(deliver: deliver, last: true)
        }
        if let pool {
            while delivered < submitted {
                try deliverNext(from: pool, deliver: deliver)
            }
        }
    }

    private func submit(deliver: (UnsafeRawBufferPointer) throws -> Void, last: Bool = false) throws {
        guard let pool else {
            try filling.compress()
            try deliver(filling.compressed)
            filling.filled = 0
            submitted += 1
            delivered += 1
            return
        }
        pool.submit(filling, sequence: submitted)
        submitted += 1
        // Hand over finished frames; wait for one when every buffer is in flight.
        while delivered < submitted, pool.isReady(delivered) || !pool.hasFree {
            try deliverNext(from: pool, deliver: deliver)
        }
        if !last { filling = pool.takeFree() }
    }

    private func deliverNext(from pool: FramePool, deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        let frame = try pool.waitFor(delivered)
        defer { pool.release(frame) }
        try deliver(frame.compressed)
        delivered += 1
    }
}

/// One libzstd compression context, owned.
final class CompressionContext {
    let pointer: OpaquePointer

    init(level: Int32) throws {
        guard let pointer = ZSTD_createCCtx() else {
            throw ArchiveError(code: .io, message: "cannot allocate a zstd compression context")
        }
        self.pointer = pointer
        try set(ZSTD_c_compressionLevel, level, "compression level \(level)")
        try set(ZSTD_c_checksumFlag, 1, "content checksum")
    }

    deinit { ZSTD_freeCCtx(pointer) }

    private func set(_ parameter: ZSTD_cParameter, _ value: Int32, _ what: String) throws {
        let result = ZSTD_CCtx_setParameter(pointer, parameter, value)
        if ZSTD_isError(result) != 0 {
            throw ArchiveError(code: .format, message: "zstd rejects \(what): \(zstdErrorName(result))")
        }
    }
}

func zstdErrorName(_ code: Int) -> String {
    String(cString: ZSTD_getErrorName(code))
}

/// The input and output buffers of one frame, reused from frame to frame.
final class FrameBuffers: @unchecked Sendable {
    // Safe: a FrameBuffers is used by one thread at a time, handed over under FramePool's lock.
    let input: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    var filled = 0
    var compressedCount = 0
    var error: ArchiveError?
    var context: CompressionContext?

    init(frameSize: Int, context: CompressionContext?) {
        input = .allocate(byteCount: frameSize, alignment: 64)
        output = .allocate(byteCount: ZSTD_compressBound(frameSize), alignment: 64)
        self.context = context
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    var compressed: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: output[0..<compressedCount]) }

    /// Compresses `input[0..<filled]` into one frame with `context`.
    func compress() throws {
        guard let context else { throw ArchiveError(code: .io, message: "no zstd context") }
        let result = ZSTD_compress2(context.pointer, output.baseAddress, output.count, input.baseAddress, filled)
        if ZSTD_isError(result) != 0 {
            throw ArchiveError(code: .io, message: "zstd compression failed: \(zstdErrorName(result))")
        }
        compressedCount = result
    }
}

/// Worker threads compressing frames; results are collected by sequence number.
final class FramePool: @unchecked Sendable {
    // Safe: every shared field is read and written under `condition`.
    private let condition = NSCondition()
    private var free: [FrameBuffers]
    private var queue: [(sequence: Int, buffers: FrameBuffers)] = []
    private var done: [Int: FrameBuffers] = [:]
    private var stopping = false
    private var threads: [Thread] = []
    private let exited = DispatchSemaphore(value: 0)

    init(workers: Int, level: Int32, frameSize: Int) {
        free = (0..<(workers + 1)).map { _ in FrameBuffers(frameSize: frameSize, context: nil) }
        for _ in 0..<workers {
            let thread = Thread { [self] in work(level: level) }
            thread.name = "lifeboat-zstd"
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
    }

    var hasFree: Bool { condition.withLock { !free.isEmpty } }

    func takeFree() -> FrameBuffers {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty { condition.wait() }
        return free.removeLast()
    }

    func submit(_ buffers: FrameBuffers, sequence: Int) {
        condition.withLock {
            queue.append((sequence, buffers))
            condition.broadcast()
        }
    }

    func isReady(_ sequence: Int) -> Bool { condition.withLock { done[sequence] != nil } }

    func waitFor(_ sequence: Int) throws -> FrameBuffers {
        condition.lock()
        defer { condition.unlock() }
        while done[sequence] == nil { condition.wait() }
        let buffers = done.removeValue(forKey: sequence)!
        if let error = buffers.error {
            buffers.error = nil
            free.append(buffers)
            throw error
        }
        return buffers
    }

    func release(_ buffers: FrameBuffers) {
        condition.withLock {
            buffers.filled = 0
            free.append(buffers)
            condition.broadcast()
        }
    }

    /// Stops the workers once the queue is empty and waits for them to exit.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        for _ in threads { exited.wait() }
    }

    private func work(level: Int32) {
        defer { exited.signal() }
        let context: CompressionContext?
        let contextError: ArchiveError?
        do {
            context = try CompressionContext(level: level)
            contextError = nil
        } catch {
            context = nil
            contextError = error as? ArchiveError ?? ArchiveError(code: .io, message: "\(error)")
        }
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let (sequence, buffers) = queue.removeFirst()
            condition.unlock()
            buffers.context = context
            do {
                if let contextError { throw contextError }
                try buffers.compress()
            } catch let error as ArchiveError {
                buffers.error = error
            } catch {
                buffers.error = ArchiveError(code: .io, message: "\(error)")
            }
            buffers.context = nil
            condition.withLock {
                done[sequence] = buffers
                condition.broadcast()
            }
        }
    }
}
