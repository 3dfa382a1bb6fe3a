import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@Suite struct AgeKeyTests {
    /// The example key pair of the age specification (secret key: 32 bytes of 0x42).
    static let specIdentity = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    static let specRecipient = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

    @Test func parsesTheSpecExampleAndDerivesItsRecipient() throws {
        let identity = try AgeX25519Identity(parsing: Self.specIdentity)
        #expect(identity.encoded == Self.specIdentity)
        #expect(identity.recipient.encoded == Self.specRecipient)
        #expect(try AgeX25519Recipient(parsing: Self.specRecipient) == identity.recipient)
        // sha256(public key)[:8], computed independently with Python's hashlib.
        #expect(identity.recipient.fingerprint == "82dab32a9aedffb4")
    }

    @Test func generatedIdentitiesRoundTrip() throws {
        let identity = try AgeX25519Identity.generate()
        let again = try AgeX25519Identity(parsing: identity.encoded)
        #expect(again.encoded == identity.encoded)
        #expect(again.recipient == identity.recipient)
        #expect(identity.encoded.hasPrefix("AGE-SECRET-KEY-1"))
        #expect(identity.encoded == identity.encoded.uppercased())
        #expect(identity.recipient.encoded.hasPrefix("age1"))
        #expect(try AgeX25519Identity.generate().encoded != identity.encoded)
    }

    @Test func descriptionsNeverShowTheSecretKey() throws {
        let identity = try AgeX25519Identity(parsing: Self.specIdentity)
        #expect(!"\(identity)".contains("GFPYYSJZ"))
        #expect(!String(reflecting: identity).contains("GFPYYSJZ"))
        #expect("\(identity)".contains("redacted"))
        #expect("\(identity.recipient)" == Self.specRecipient)
    }

    @Test(arguments: [
        ("lower case", specIdentity.lowercased()),
        ("mixed case", "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEx"),
        ("bad checksum", "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY"),
        ("changed data", "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAFX"),
        ("recipient", specRecipient),
        ("truncated", String(specIdentity.dropLast(8))),
        ("31 bytes", "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY8SXYJQ"),
        ("empty", ""),
    ])
    func rejectsInvalidIdentities(_ label: String, _ text: String) {
        let error = #expect(throws: AgeError.self, "\(label)") { try AgeX25519Identity(parsing: text) }
        #expect(error?.code == .invalidKey)
        #expect(error.map { !$0.message.contains("GFPYYSJZ") } == true, "the message never repeats the key")
    }

    @Test(arguments: [
        "AGE1ZVKYG2LQZRAA2LNJVQEJ32NKUU0UES2S82HZRYE869XEEXVN73EQUNUJWJ",  // upper case
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwJ",  // mixed case
        "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwq",  // checksum
        "age1qyqszqgpqyqszqgpqyqszqgpqyataltw",  // valid Bech32 of 16 bytes, not 32
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGI",
    ])
    func rejectsInvalidRecipients(_ text: String) {
        let error = #expect(throws: AgeError.self) { try AgeX25519Recipient(parsing: text) }
        #expect(error?.code == .invalidKey)
    }

    @Test func parsesAnAgeKeygenStyleFileWithSeveralKeys() throws {
        let a = try AgeX25519Identity.generate()
        let text = """
            # created: 2024-05-01T10:00:00+02:00
            # public key: \(a.recipient.encoded)
            \(a.encoded)

            # a second key
            \(Self.specIdentity)\r

            """
        let identities = try AgeKeyFile.parseIdentities(text)
        #expect(identities.map(\.encoded) == [a.encoded, Self.specIdentity])
    }

    @Test func identityFileErrorsNameTheLineButNotTheKey() throws {
        let text = "# created: x\n\n\(Self.specIdentity)\nAGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZ\n"
        let error = #expect(throws: AgeError.self) { try AgeKeyFile.parseIdentities(text) }
        #expect(error?.message.contains("line 4") == true, "\(String(describing: error))")
        #expect(error.map { !$0.message.contains("GFPYYSJZ") } == true)
        #expect(throws: AgeError.self) { try AgeKeyFile.parseIdentities("# nothing here\n") }
    }

    @Test func parsesRecipientFiles() throws {
        let a = try AgeX25519Identity.generate().recipient
        let recipients = try AgeKeyFile.parseRecipients("# backup keys\n\(a.encoded)\n\n  \(Self.specRecipient)  \n")
        #expect(recipients == [a, try AgeX25519Recipient(parsing: Self.specRecipient)])
        let error = #expect(throws: AgeError.self) { try AgeKeyFile.parseRecipients("\(a.encoded)\n# c\nage1nope\n") }
        #expect(error?.message.contains("line 3") == true)
    }

    @Test func rendersLikeAgeKeygen() throws {
        let identity = try AgeX25519Identity(parsing: Self.specIdentity)
        let text = AgeKeyFile.render(identity, created: Date(timeIntervalSince1970: 1_714_557_600.75))
        #expect(
            text == """
                # created: 2024-05-01T10:00:00Z
                # public key: \(Self.specRecipient)
                \(Self.specIdentity)

                """)
        #expect(try AgeKeyFile.parseIdentities(text).map(\.encoded) == [Self.specIdentity])
    }
}
