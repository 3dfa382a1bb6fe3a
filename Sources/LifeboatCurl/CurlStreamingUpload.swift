import Foundation
import LifeboatCore

/// An upload fed by pushes: the caller writes bytes as it produces them (the backup pipeline is
/// push-style), while libcurl pulls them on a dedicated thread. At most `bufferSize` bytes wait in
/// between, so a slow server slows the producer down instead of filling memory.
public final class CurlStreamingUpload: ByteSink {
    private let pipe: BlockingPipe
    private let thread: TransferThread
    private var finished = false

    /// Starts `transfer` on `handle` with the pushed bytes as its body (`transfer.body` is replaced).
    /// The handle belongs to the upload until ``finish()`` or ``abort()`` returns.
    public init(handle: CurlHandle, transfer: CurlTransfer, size: Int64? = nil, bufferSize: Int = 1 << 20) {
        let pipe = BlockingPipe(capacity: bufferSize)
        var transfer = transfer
        transfer.body = .source(pipe, size: size)
        self.pipe = pipe
        let work = UncheckedTransfer(handle: handle, transfer: transfer)
        thread = TransferThread {
            defer { pipe.consumerFinished() }
            return try work.handle.perform(work.transfer)
        }
    }

    deinit {
        if !finished { abort() }
    }

    /// Waits until the server is ready for the body (libcurl asks for the first bytes: for FTP the
    /// `STOR` was accepted), so a refused login or path fails here rather than on some later write.
    public func waitUntilStarted() throws {
        guard pipe.waitForConsumer() else {
            _ = try thread.result().get()
            throw CurlError(code: -1, kind: .transient, message: "the server ended the upload before it started")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try pipe.write(bytes)
        } catch is BlockingPipe.Closed {
            // The transfer ended early: its own error says why.
            if case .failure(let error) = thread.result() { throw error }
            throw CurlError(code: -1, kind: .transient, message: "the server ended the upload early")
        }
    }

    /// Ends the body and waits for the server's answer.
    public func finish() throws -> CurlResponse {
        finished = true
        pipe.closeForWriting()
        return try thread.result().get()
    }

    /// Stops the transfer and waits for its thread; safe to call more than once.
    public func abort() {
        finished = true
        pipe.abort()
        _ = thread.result()
    }
}

/// Hands a handle and its transfer to the dedicated thread.
private struct UncheckedTransfer: @unchecked Sendable {
    // @unchecked: the transfer's body and sinks are used only by the transfer thread from here on;
    // the producer reaches the body only through the pipe's lock.
    let handle: CurlHandle
    let transfer: CurlTransfer
}

/// Runs one blocking transfer on its own thread and keeps its result.
final class TransferThread: @unchecked Sendable {
    // @unchecked: `outcome` is written once by the thread and read under `condition`.
    private let condition = NSCondition()
    private var outcome: Result<CurlResponse, any Error>?

    init(_ body: @escaping @Sendable () throws -> CurlResponse) {
        let thread = Thread { [self] in
            let result = Result { try body() }
            condition.withLock {
                outcome = result
                condition.broadcast()
            }
        }
        thread.name = "lifeboat-curl"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits for the transfer to end.
    func result() -> Result<CurlResponse, any Error> {
        condition.withLock {
            while outcome == nil { condition.wait() }
            return outcome!
        }
    }
}

/// A bounded byte queue between one producer and one consumer thread.
final class BlockingPipe: ByteSource, @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    struct Closed: Error {}
    struct Aborted: Error, CustomStringConvertible {
        var description: String { "the upload was abandoned" }
    }

    private let condition = NSCondition()
    private let capacity: Int
    private var chunks: [[UInt8]] = []
    private var headOffset = 0
    private var queued = 0
    private var writingClosed = false
    private var aborted = false
    private var readerGone = false
    private var consumerStarted = false

    init(capacity: Int) { self.capacity = capacity }

    /// Producer: blocks while the queue is full; throws ``Closed`` once the consumer has stopped.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        try condition.withLock {
            while queued >= capacity && !readerGone && !aborted { condition.wait() }
            if readerGone || aborted { throw Closed() }
            chunks.append(Array(bytes))
            queued += bytes.count
            condition.broadcast()
        }
    }

    /// Producer: no more bytes; the consumer sees the end once the queue is drained.
    func closeForWriting() {
        condition.withLock {
            writingClosed = true
            condition.broadcast()
        }
    }

    /// Either side: stop; the consumer's next read throws, the producer's next write throws.
    func abort() {
        condition.withLock {
            aborted = true
            condition.broadcast()
        }
    }

    /// Producer: waits for the consumer's first read; false when it finished without reading.
    func waitForConsumer() -> Bool {
        condition.withLock {
            while !consumerStarted && !readerGone && !aborted { condition.wait() }
            return consumerStarted
        }
    }

    /// Consumer (the transfer thread).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try condition.withLock {
            if !consumerStarted {
                consumerStarted = true
                condition.broadcast()
            }
            while chunks.isEmpty && !writingClosed && !aborted { condition.wait() }
            if aborted {
                readerGone = true
                throw Aborted()
            }
            guard let head = chunks.first else { return 0 }
            let n = min(buffer.count, head.count - headOffset)
            head.withUnsafeBytes { raw in
                buffer.baseAddress!.copyMemory(from: raw.baseAddress!.advanced(by: headOffset), byteCount: n)
            }
            headOffset += n
            if headOffset == head.count {
                chunks.removeFirst()
                headOffset = 0
            }
            queued -= n
            condition.broadcast()
            return n
        }
    }

    /// Consumer: it will read no more (the transfer ended); wakes a blocked producer.
    func consumerFinished() {
        condition.withLock {
            readerGone = true
            condition.broadcast()
        }
    }
}
