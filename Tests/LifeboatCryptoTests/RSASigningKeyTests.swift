import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

/// RS256 signatures checked by the openssl CLI (`openssl dgst -sha256 -verify`), with keys the CLI
/// made in both PEM forms.
@Suite struct RSASigningKeyTests {
    let directory: String

    init() throws { directory = try TestSupport.temporaryDirectory() }

    func path(_ name: String) -> String { directory + "/" + name }

    func openssl(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        let result = try TestSupport.run(["openssl"] + arguments)
        try #require(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    /// A new RSA key: PKCS#8 (`BEGIN PRIVATE KEY`) in key.pem, PKCS#1 (`BEGIN RSA PRIVATE KEY`) in
    /// key-pkcs1.pem, the public key in pub.pem.
    func makeKey(bits: Int = 2048) throws {
        _ = try openssl([
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", path("key.pem"),
        ])
        _ = try openssl(["rsa", "-in", path("key.pem"), "-traditional", "-out", path("key-pkcs1.pem")])
        _ = try openssl(["pkey", "-in", path("key.pem"), "-pubout", "-out", path("pub.pem")])
    }

    func text(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    /// Whether `openssl dgst -sha256 -verify pub.pem` accepts `signature` over `message`.
    func opensslVerifies(_ message: [UInt8], _ signature: [UInt8]) throws -> Bool {
        try Data(message).write(to: URL(fileURLWithPath: path("message")))
        try Data(signature).write(to: URL(fileURLWithPath: path("signature")))
        let result = try TestSupport.run([
            "openssl", "dgst", "-sha256", "-verify", path("pub.pem"), "-signature", path("signature"), path("message"),
        ])
        return result.status == 0 && String(decoding: result.stdout, as: UTF8.self).contains("Verified OK")
    }

    @Test(arguments: ["key.pem", "key-pkcs1.pem"])
    func signaturesVerifyWithTheOpenSSLCLI(_ keyFile: String) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try makeKey()
        #expect(try text(keyFile).contains(keyFile == "key.pem" ? "BEGIN PRIVATE KEY" : "BEGIN RSA PRIVATE KEY"))
        let key = try RSASigningKey(pem: try text(keyFile))
        #expect(key.bits == 2048)
        for message in [Array("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0".utf8), [], TestSupport.pattern(100_000)] {
            let signature = try key.signSHA256(message)
            #expect(signature.count == 256)
            #expect(try opensslVerifies(message, signature), "message of \(message.count) bytes")
            // PKCS#1 v1.5 is deterministic: the same message, the same signature.
            #expect(try key.signSHA256(message) == signature)
        }
        // A different message does not verify against the signature: the check can fail.
        let signature = try key.signSHA256(Array("one".utf8))
        #expect(try !opensslVerifies(Array("two".utf8), signature))
    }

    @Test func signsFromManyThreadsAtOnce() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try makeKey()
        let key = try RSASigningKey(pem: try text("key.pem"))
        let expected = try key.signSHA256(Array("same".utf8))
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<16 { group.addTask { try key.signSHA256(Array("same".utf8)) } }
            for try await signature in group { #expect(signature == expected) }
        }
    }

    @Test func unusableKeysAreRefusedWithoutQuotingThem() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try makeKey(bits: 1024)
        _ = try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("ec.pem")])
        _ = try openssl([
            "pkey", "-in", path("key.pem"), "-aes-256-cbc", "-passout", "pass:secret", "-out", path("encrypted.pem"),
        ])
        let short = try text("key.pem")
        let damaged = short.replacingOccurrences(of: "\n", with: "\nAAAA", options: [], range: nil)
        let cases: [(pem: String, says: String)] = [
            (short, "RSA-1024; at least 2048 bits"),
            (try text("ec.pem"), "not an RSA key"),
            (try text("encrypted.pem"), "encrypted with a passphrase"),
            ("not a key", "not in PEM form"),
            (damaged, "cannot be read as a PEM RSA key"),
        ]
        for (pem, says) in cases {
            #expect {
                _ = try RSASigningKey(pem: pem)
            } throws: { error in
                let message = "\(error)"
                let body = pem.split(separator: "\n").dropFirst().first.map(String.init) ?? pem
                return error is CryptoError && message.contains(says) && (pem == "not a key" || !message.contains(body))
            }
        }
    }
}
