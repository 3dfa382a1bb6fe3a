import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

/// Interoperability with the reference age CLI (Debian's `age` 1.1.1: /usr/bin/age, age-keygen).
/// Passphrase prompts need a terminal; python3's `pty` module provides one.
@Suite struct AgeCLIInteropTests {
    static let sizes = [0, 1, 65535, 65536, 65537, 5 << 20]
    let directory: String

    init() throws { directory = try TestSupport.temporaryDirectory() }

    func path(_ name: String) -> String { directory + "/" + name }

    func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
    }

    func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path(name)))) }

    /// An `age -o` output: age creates the file on its first write, so an empty output has none.
    func readOutput(_ name: String) throws -> [UInt8] {
        FileManager.default.fileExists(atPath: path(name)) ? try read(name) : []
    }

    /// Runs age and returns its standard output.
    @discardableResult
    func age(_ arguments: [String]) throws -> [UInt8] {
        let result = try TestSupport.run(["age"] + arguments)
        try #require(result.status == 0, "age \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    @Test func toolsArePresent() throws {
        let version = try TestSupport.run(["age", "--version"])
        #expect(version.status == 0, "the age CLI is needed by these tests (apt install age)")
        #expect(try TestSupport.run(["python3", "-c", "import pty, zlib"]).status == 0)
    }

    @Test(arguments: sizes)
    func ageKeygenIdentitiesWorkBothWays(_ size: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keygen = try TestSupport.run(["age-keygen", "-o", path("key.txt")])
        try #require(keygen.status == 0, "age-keygen: \(keygen.stderr)")
        let identities = try AgeKeyFile.parseIdentities(String(contentsOfFile: path("key.txt"), encoding: .utf8))
        let identity = try #require(identities.first)
        let published = try TestSupport.run(["age-keygen", "-y", path("key.txt")])
        #expect(String(decoding: published.stdout, as: UTF8.self) == identity.recipient.encoded + "\n")

        let plaintext = TestSupport.pattern(size, seed: UInt64(size) + 7)
        try write(plaintext, "plain")

        // Lifeboat encrypts to the age-keygen recipient, age decrypts.
        try write(try TestSupport.encrypt(plaintext, to: [.x25519(identity.recipient)]), "lifeboat.age")
        #expect(try age(["-d", "-i", path("key.txt"), path("lifeboat.age")]) == plaintext)

        // age encrypts, Lifeboat decrypts with the age-keygen identity.
        try age(["-r", identity.recipient.encoded, "-o", path("age.age"), path("plain")])
        let result = TestSupport.decrypt(try read("age.age"), identities: identities.map { .x25519($0) })
        #expect(result.error == nil, "\(String(describing: result.error))")
        #expect(result.plaintext == plaintext)
    }

    @Test(arguments: sizes)
    func lifeboatIdentitiesWorkWithAge(_ size: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = try AgeX25519Identity.generate()
        try AgeKeyFile.render(identity, created: Date()).write(
            toFile: path("key.txt"), atomically: true, encoding: .utf8)
        let published = try TestSupport.run(["age-keygen", "-y", path("key.txt")])
        #expect(String(decoding: published.stdout, as: UTF8.self) == identity.recipient.encoded + "\n")

        let plaintext = TestSupport.pattern(size, seed: UInt64(size) + 11)
        try write(plaintext, "plain")
        try age(["-r", identity.recipient.encoded, "-o", path("age.age"), path("plain")])
        let result = TestSupport.decrypt(try read("age.age"), identities: [.x25519(identity)])
        #expect(result.error == nil, "\(String(describing: result.error))")
        #expect(result.plaintext == plaintext)

        try write(try TestSupport.encrypt(plaintext, to: [.x25519(identity.recipient)]), "lifeboat.age")
        #expect(try age(["-d", "-i", path("key.txt"), path("lifeboat.age")]) == plaintext)
    }

    @Test(arguments: sizes)
    func passphrasesWorkBothWays(_ size: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let passphrase = "lifeboat interop \(size)"
        let plaintext = TestSupport.pattern(size, seed: UInt64(size) + 13)
        try write(plaintext, "plain")

        // Lifeboat encrypts with scrypt at the work factor callers use; age decrypts.
        try write(
            try TestSupport.encrypt(plaintext, to: [.scrypt(passphrase: passphrase, workFactor: 18)]), "lifeboat.age")
        let decrypted = try TestSupport.runWithPassphrase(
            ["age", "-d", "-o", path("out"), path("lifeboat.age")], passphrase: passphrase)
        try #require(decrypted.status == 0, "age -d: \(decrypted.stderr)")
        #expect(try readOutput("out") == plaintext)

        // age -p encrypts (work factor 18); Lifeboat decrypts, and refuses a wrong passphrase.
        let encrypted = try TestSupport.runWithPassphrase(
            ["age", "-p", "-o", path("age.age"), path("plain")], passphrase: passphrase)
        try #require(encrypted.status == 0, "age -p: \(encrypted.stderr)")
        let file = try read("age.age")
        #expect(String(decoding: file.prefix(100), as: UTF8.self).contains("-> scrypt "))
        let result = TestSupport.decrypt(file, identities: [.scrypt(passphrase: passphrase, maxWorkFactor: 22)])
        #expect(result.error == nil, "\(String(describing: result.error))")
        #expect(result.plaintext == plaintext)
        if size == 1 {
            let wrong = TestSupport.decrypt(
                file, identities: [.scrypt(passphrase: passphrase + "!", maxWorkFactor: 22)])
            #expect((wrong.error as? AgeError)?.code == .noMatchingIdentity)
        }
    }

    @Test func ageRefusesWhatLifeboatRefuses() throws {
        // A Lifeboat file cut at a chunk boundary is rejected by age too, so the two agree on truncation.
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let identity = try AgeX25519Identity.generate()
        try AgeKeyFile.render(identity, created: Date()).write(
            toFile: path("key.txt"), atomically: true, encoding: .utf8)
        let file = try TestSupport.encrypt(TestSupport.pattern(3 << 16), to: [.x25519(identity.recipient)])
        let cut = file.count - (16 + (1 << 16))
        try write(Array(file[..<cut]), "cut.age")
        let result = try TestSupport.run(["age", "-d", "-i", path("key.txt"), "-o", path("out"), path("cut.age")])
        #expect(result.status != 0)
        #expect(
            (TestSupport.decrypt(Array(file[..<cut]), identities: [.x25519(identity)]).error as? AgeError)?.code
                == .truncated)
    }
}
