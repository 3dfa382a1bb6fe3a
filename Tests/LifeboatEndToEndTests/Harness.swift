import Foundation
import Testing

/// Runs the built `lifeboat` binary and stock tools, in temporary folders.
enum Harness {
    /// The `lifeboat` executable: `LIFEBOAT_BIN`, or the one built beside the test bundle.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["LIFEBOAT_BIN"] { return path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("lifeboat").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/debug/lifeboat"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    /// Runs a program to completion, with optional standard input.
    @discardableResult
    static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil,
        directory: String? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        process.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
        var env = ProcessInfo.processInfo.environment
        env["LIFEBOAT_CONFIG"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        // Read both pipes concurrently so neither fills up.
        let errData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData.get(), as: UTF8.self))
    }

    /// Runs `lifeboat` with arguments.
    @discardableResult
    static func lifeboat(_ arguments: String..., environment: [String: String] = [:]) throws -> Result {
        try run(binary, arguments, environment: environment)
    }

    @discardableResult
    static func lifeboat(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try run(binary, arguments, environment: environment)
    }

    /// Starts `lifeboat` in the background, output discarded (for tests that kill it).
    static func spawn(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs a shell pipeline (for stock-tool interop).
    @discardableResult
    static func shell(_ script: String) throws -> Result {
        try run("/bin/bash", ["-o", "pipefail", "-c", script])
    }
}

final class LockedData: @unchecked Sendable {
    // Safe: every access goes through `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.withLock { data = d } }
    func get() -> Data { lock.withLock { data } }
}

/// A demo installation made by `lifeboat demo`: a seeded PBX, a key, a configuration, a store with one
/// snapshot. Removed when released.
final class DemoFixture {
    let dir: String
    var config: String { dir + "/lifeboat.yaml" }
    var key: String { dir + "/keys/lifeboat.key" }
    var store: String { dir + "/store" }
    var pbx: String { dir + "/pbx" }

    init() throws {
        dir = NSTemporaryDirectory() + "lifeboat-e2e-" + UUID().uuidString.prefix(8)
        let result = try Harness.lifeboat("demo", "--dir", dir)
        guard result.status == 0 else {
            throw FixtureError(message: "lifeboat demo failed (\(result.status)): \(result.output)")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs lifeboat with `--config` of this fixture appended.
    @discardableResult
    func lifeboat(_ arguments: String...) throws -> Harness.Result {
        try Harness.lifeboat(arguments + ["--config", config])
    }

    /// Archive files in the store (final names only).
    func archives() throws -> [String] {
        try files(in: store).filter { $0.hasSuffix(".age") || $0.hasSuffix(".tar.zst") }
    }

    func sidecars() throws -> [String] { try files(in: store).filter { $0.hasSuffix(".json") } }

    func files(in root: String) throws -> [String] {
        var result: [String] = []
        let e = FileManager.default.enumerator(atPath: root)
        while let rel = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                result.append(root + "/" + rel)
            }
        }
        return result.sorted()
    }

    /// Replaces text in the configuration file.
    func editConfig(_ transform: (String) -> String) throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try transform(text).write(toFile: config, atomically: true, encoding: .utf8)
    }

    func snapshotsJSON() throws -> [[String: Any]] {
        let result = try lifeboat("snapshots", "--json")
        guard result.status == 0 else { throw FixtureError(message: result.output) }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

func flipByte(in path: String, at offset: Int) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data[offset] ^= 0x01
    try data.write(to: URL(fileURLWithPath: path))
}

func truncate(_ path: String, to length: Int) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    try data.prefix(length).write(to: URL(fileURLWithPath: path))
}

func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
}
