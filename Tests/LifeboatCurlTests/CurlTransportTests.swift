import Foundation
import LifeboatCore
import Testing

@testable import LifeboatCurl

@Suite struct CurlTransportTests {
    static func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    static func sha256Hex(_ bytes: [UInt8]) throws -> String {
        let dir = NSTemporaryDirectory() + "curl-test-" + UUID().uuidString
        try Data(bytes).write(to: URL(fileURLWithPath: dir))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [dir]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        return String(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
    }

    @Test func uploadFromBytesCarriesHeadersAndReadsTheReply() throws {
        let server = try HTTPTestServer()
        let body = Self.pattern(300_000)
        var transfer = CurlTransfer(url: server.base + "/x")
        transfer.body = .bytes(body)
        transfer.headers = ["X-Test: hello"]
        let response = try CurlHandle().perform(transfer)
        #expect(response.status == 201)
        #expect(response.header("x-reply") == "yes")
        #expect(String(decoding: response.body, as: UTF8.self) == "\(try Self.sha256Hex(body)) 300000 hello")
        #expect(response.uploadedBytes == 300_000)
    }

    @Test(arguments: [0, 1, 65_535, 1 << 20, (5 << 20) + 3])
    func streamingUploadDeliversEveryPushedByte(size: Int) throws {
        let server = try HTTPTestServer()
        let body = Self.pattern(size)
        let upload = CurlStreamingUpload(
            handle: try CurlHandle(), transfer: CurlTransfer(url: server.base + "/x"), bufferSize: 64 << 10)
        var offset = 0
        var step = 1
        while offset < body.count {  // uneven pushes, from 1 byte up
            let end = min(body.count, offset + step)
            try upload.write(Array(body[offset..<end]))
            offset = end
            step = step * 3 + 1
        }
        let response = try upload.finish()
        #expect(response.status == 201)
        #expect(String(decoding: response.body, as: UTF8.self).hasPrefix("\(try Self.sha256Hex(body)) \(size) "))
    }

    @Test func downloadStreamsIntoASink() throws {
        let server = try HTTPTestServer()
        final class Counter: ByteSink {
            var count = 0
            var sum = 0
            func write(_ bytes: UnsafeRawBufferPointer) throws {
                count += bytes.count
                for b in bytes { sum &+= Int(b) }
            }
        }
        let counter = Counter()
        var transfer = CurlTransfer(url: server.base + "/bytes/3000000")
        transfer.responseSink = counter
        let response = try CurlHandle().perform(transfer)
        #expect(response.status == 200)
        #expect(counter.count == 3_000_000)
        #expect(response.body.isEmpty)
    }

    @Test func aSinkFailureStopsTheTransferWithItsOwnError() throws {
        let server = try HTTPTestServer()
        struct Full: Error {}
        final class Failing: ByteSink {
            func write(_ bytes: UnsafeRawBufferPointer) throws { throw Full() }
        }
        var transfer = CurlTransfer(url: server.base + "/bytes/100000")
        transfer.responseSink = Failing()
        #expect(throws: Full.self) { try CurlHandle().perform(transfer) }
    }

    @Test func responsesOverTheLimitAreRefused() throws {
        let server = try HTTPTestServer()
        var transfer = CurlTransfer(url: server.base + "/bytes/200000")
        transfer.responseLimit = 100_000
        #expect {
            try CurlHandle().perform(transfer)
        } throws: { error in
            "\(error)".contains("100000-byte limit")
        }
    }

    @Test func aClosedPortIsATransientErrorWithCurlsMessage() throws {
        // The port of a test server that has just been stopped: nobody listens there.
        let server = try HTTPTestServer()
        let port = server.port
        _ = consume server
        var transfer = CurlTransfer(url: "http://127.0.0.1:\(port)/x")
        transfer.username = "user"
        transfer.password = Secret("hunter2-secret")
        transfer.connectTimeout = 5
        #expect {
            try CurlHandle().perform(transfer)
        } throws: { error in
            guard let error = error as? CurlError else { return false }
            return error.kind == .transient && error.isRetryable && error.message.contains("127.0.0.1")
                && !"\(error)".contains("hunter2")
        }
    }

    @Test func aStalledTransferTimesOut() throws {
        let server = try HTTPTestServer()
        var transfer = CurlTransfer(url: server.base + "/slow")
        transfer.lowSpeedTime = 2
        let started = Date()
        #expect {
            try CurlHandle().perform(transfer)
        } throws: { error in
            (error as? CurlError)?.kind == .transient
        }
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test func cancellationStopsATransferFromAnotherThread() throws {
        let server = try HTTPTestServer()
        let cancellation = CurlCancellation()
        var transfer = CurlTransfer(url: server.base + "/slow")
        transfer.cancellation = cancellation
        var progressCalls = 0
        transfer.progress = { _, _ in progressCalls += 1 }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { cancellation.cancel() }
        let started = Date()
        #expect {
            try CurlHandle().perform(transfer)
        } throws: { error in
            (error as? CurlError)?.kind == .aborted
        }
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(progressCalls > 0)
    }

    @Test func abortingAStreamingUploadEndsItsThread() throws {
        let server = try HTTPTestServer()
        let upload = CurlStreamingUpload(
            handle: try CurlHandle(), transfer: CurlTransfer(url: server.base + "/x"), bufferSize: 1024)
        try upload.write(Self.pattern(10_000))
        upload.abort()
        upload.abort()
        #expect(throws: (any Error).self) { try upload.write([1]) }
    }

    @Test func httpStatusesAreReportedNotThrown() throws {
        let server = try HTTPTestServer()
        let handle = try CurlHandle()
        for status in [404, 503] {
            #expect(try handle.perform(CurlTransfer(url: server.base + "/status/\(status)")).status == status)
        }
    }
}

@Suite struct BlockingPipeTests {
    @Test func producerBlocksWhenFullAndResumesAsTheConsumerReads() throws {
        let pipe = BlockingPipe(capacity: 10)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? [UInt8](repeating: 1, count: 10).withUnsafeBytes { try pipe.write($0) }
            try? [UInt8](repeating: 2, count: 5).withUnsafeBytes { try pipe.write($0) }  // blocks until read
            pipe.closeForWriting()
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 0.3) == .timedOut)
        var buffer = [UInt8](repeating: 0, count: 64)
        var total: [UInt8] = []
        while true {
            let n = try buffer.withUnsafeMutableBytes { try pipe.read(into: $0) }
            if n == 0 { break }
            total += buffer[0..<n]
        }
        #expect(total == [UInt8](repeating: 1, count: 10) + [UInt8](repeating: 2, count: 5))
        #expect(done.wait(timeout: .now() + 5) == .success)
    }

    @Test func abortWakesBothSides() throws {
        let pipe = BlockingPipe(capacity: 4)
        pipe.abort()
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(throws: (any Error).self) { try buffer.withUnsafeMutableBytes { try pipe.read(into: $0) } }
        #expect(throws: BlockingPipe.Closed.self) { try [UInt8](repeating: 0, count: 1).withUnsafeBytes { try pipe.write($0) } }
    }
}
