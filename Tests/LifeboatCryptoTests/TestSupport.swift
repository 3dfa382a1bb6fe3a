import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

/// Helpers shared by the LifeboatCrypto tests: external tools, temp files, sources and sinks.
enum TestSupport {
    /// The result of running an external tool.
    struct ProcessResult {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
    }

    /// Runs `arguments` (looked up on PATH) with optional extra environment, stdin from a file.
    /// Output goes through temp files, so large outputs cannot dead-lock on a pipe.
    static func run(_ arguments: [String], environment: [String: String] = [:], stdinFile: String? = nil) throws
        -> ProcessResult
    {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outPath = directory + "/stdout"
        let errPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = outHandle
        process.standardError = errHandle
        if let stdinFile {
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: Array(try Data(contentsOf: URL(fileURLWithPath: outPath))),
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Runs `arguments` on a pseudo-terminal, answering every passphrase prompt with `passphrase`
    /// (`age -p` and `age -d` read passphrases only from a terminal).
    static func runWithPassphrase(_ arguments: [String], passphrase: String) throws -> ProcessResult {
        let script = """
            import os, pty, sys
            passphrase = os.environ["LIFEBOAT_TEST_PASSPHRASE"].encode() + b"\\n"
            pid, fd = pty.fork()
            if pid == 0:
                os.execvp(sys.argv[1], sys.argv[1:])
            seen = b""
            answered = 0
            while True:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    break
                if not data:
                    break
                seen += data
                while answered < seen.lower().count(b"passphrase:") + seen.lower().count(b"passphrase (leave"):
                    os.write(fd, passphrase)
                    answered += 1
            _, status = os.waitpid(pid, 0)
            sys.stderr.write(seen.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        return try run(["python3", "-c", script] + arguments, environment: ["LIFEBOAT_TEST_PASSPHRASE": passphrase])
    }

    /// Inflates zlib data with python3's zlib (Foundation on Linux has no zlib API).
    static func zlibDecompress(_ data: [UInt8]) throws -> [UInt8] {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/in.z"
        try Data(data).write(to: URL(fileURLWithPath: input))
        let result = try run([
            "python3", "-c",
            "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1], 'rb').read()))",
            input,
        ])
        guard result.status == 0 else { throw TestFailure("python3 zlib failed: \(result.stderr)") }
        return result.stdout
    }

    /// A new empty directory under the system temp directory.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "lifeboat-crypto-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
    static func pattern(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var word = state
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }

    /// Encrypts `plaintext` to `recipients`, writing it in pieces of `piece` bytes.
    static func encrypt(_ plaintext: [UInt8], to recipients: [AgeRecipient], piece: Int = 1 << 20) throws -> [UInt8] {
        let sink = MemorySink()
        let encryptor = try AgeEncryptingSink(recipients: recipients, output: sink)
        try plaintext.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let end = min(offset + piece, all.count)
                try encryptor.write(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
            }
        }
        try encryptor.finish()
        return sink.bytes
    }

    /// The outcome of decrypting: the plaintext released and the error that stopped it, if any.
    struct Decryption {
        var plaintext: [UInt8]
        var error: (any Error)?
        /// Whether the error came from `init` (header stage) rather than from `read` (payload).
        var failedInHeader: Bool
    }

    /// Decrypts `ciphertext`, reading in pieces of `readSize` from a source that hands out at most
    /// `inputPiece` bytes per read; collects the plaintext released before any error.
    static func decrypt(
        _ ciphertext: [UInt8], identities: [AgeIdentity], readSize: Int = 64 << 10, inputPiece: Int = .max
    ) -> Decryption {
        let source: AgeDecryptingSource
        do {
            source = try AgeDecryptingSource(
                input: TricklingSource(ciphertext, piece: inputPiece), identities: identities)
        } catch {
            return Decryption(plaintext: [], error: error, failedInHeader: true)
        }
        var plaintext: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: readSize)
        do {
            while true {
                let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if n == 0 { break }
                plaintext += buffer[0..<n]
            }
        } catch {
            return Decryption(plaintext: plaintext, error: error, failedInHeader: false)
        }
        return Decryption(plaintext: plaintext, error: nil, failedInHeader: false)
    }
}

/// A failure of the test harness itself (a tool that did not run).
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A source over bytes in memory that returns at most `piece` bytes per read, like a slow network.
final class TricklingSource: ByteSource {
    private let bytes: [UInt8]
    private let piece: Int
    private var offset = 0

    init(_ bytes: [UInt8], piece: Int) {
        self.bytes = bytes
        self.piece = piece
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, piece, bytes.count - offset)
        if n > 0 {
            bytes.withUnsafeBytes {
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)]))
            }
            offset += n
        }
        return n
    }
}

/// A sink that throws the bytes away (for throughput measurements).
final class DiscardingSink: ByteSink {
    private(set) var count = 0
    func write(_ bytes: UnsafeRawBufferPointer) throws { count += bytes.count }
}
