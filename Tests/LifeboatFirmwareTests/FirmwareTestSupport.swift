import Foundation
import LifeboatCrypto
import Testing

/// Helpers shared by the LifeboatFirmware tests: the minisign CLI and temp directories.
enum FirmwareTestSupport {
    /// The result of running an external tool.
    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `arguments` (looked up on PATH); output goes through temp files, so it cannot dead-lock.
    static func run(_ arguments: [String]) throws -> ProcessResult {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outPath = directory + "/stdout"
        let errPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// A new empty directory under the system temp directory.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "lifeboat-firmware-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A key pair made by the real `minisign -G -W` (Debian's minisign 0.11) in its own directory.
struct MinisignCLIKey {
    let directory: String

    var publicKeyPath: String { directory + "/key.pub" }
    var secretKeyPath: String { directory + "/key.sec" }

    init() throws {
        directory = try FirmwareTestSupport.temporaryDirectory()
        let result = try FirmwareTestSupport.run(["minisign", "-G", "-W", "-p", publicKeyPath, "-s", secretKeyPath])
        try #require(result.status == 0, "minisign -G (apt install minisign): \(result.stderr)")
    }

    /// The whole `.pub` file: an untrusted comment line, then the base64 key.
    func publicKeyFile() throws -> String { try String(contentsOfFile: publicKeyPath, encoding: .utf8) }

    /// The base64 line of the `.pub` file, as `firmware.public_key` holds it.
    func publicKeyLine() throws -> String {
        try #require(publicKeyFile().split(separator: "\n").last.map(String.init))
    }

    /// The key id as the `.pub` comment prints it (`minisign public key D1684518EE785292`).
    func printedKeyID() throws -> String {
        let comment = try #require(publicKeyFile().split(separator: "\n").first)
        return try #require(comment.split(separator: " ").last.map(String.init))
    }

    func publicKey() throws -> MinisignPublicKey { try MinisignPublicKey(publicKeyLine()) }

    /// Signs `message` with `minisign -S` (prehashed, or legacy with `-l`) and returns the .minisig text.
    func sign(_ message: [UInt8], legacy: Bool = false, trustedComment: String? = nil) throws -> String {
        let file = directory + "/message-" + UUID().uuidString
        try Data(message).write(to: URL(fileURLWithPath: file))
        defer {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: file + ".minisig")
        }
        var arguments = ["minisign", "-S", "-s", secretKeyPath, "-m", file]
        if legacy { arguments.append("-l") }
        if let trustedComment { arguments += ["-t", trustedComment] }
        let result = try FirmwareTestSupport.run(arguments)
        try #require(result.status == 0, "minisign -S: \(result.stderr)")
        return try String(contentsOfFile: file + ".minisig", encoding: .utf8)
    }

    /// Whether the real `minisign -V` accepts `signature` over `message` with this key.
    func cliVerifies(_ message: [UInt8], signature: String) throws -> Bool {
        let file = directory + "/check-" + UUID().uuidString
        try Data(message).write(to: URL(fileURLWithPath: file))
        try signature.write(toFile: file + ".minisig", atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: file + ".minisig")
        }
        return try FirmwareTestSupport.run(["minisign", "-V", "-q", "-p", publicKeyPath, "-m", file]).status == 0
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Replaces line `index` (0-based) of a .minisig text.
func replacingLine(_ index: Int, of text: String, with line: String) -> String {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    lines[index] = line
    return lines.joined(separator: "\n")
}

/// The line `index` (0-based) of a .minisig text.
func line(_ index: Int, of text: String) -> String {
    String(text.split(separator: "\n", omittingEmptySubsequences: false)[index])
}

/// Base64 text with one bit of its decoded byte at `offset` flipped.
func flippingByte(_ offset: Int, inBase64 text: String) throws -> String {
    var bytes = try #require(Data(base64Encoded: text))
    bytes[offset] ^= 0x01
    return bytes.base64EncodedString()
}
