import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// Rendering of notification emails: headers, RFC 2047 encoded-words, quoted-printable bodies, and
/// refusal of anything that could inject a header. Decoding is done by ``RawMail``, which shares no
/// code with the encoders.
@Suite struct EmailMessageTests {
    static let date = Date(timeIntervalSince1970: 1_795_741_323)  // Fri, 27 Nov 2026 01:02:03 UTC

    func message(
        from: EmailAddress? = nil, to: [EmailAddress]? = nil, subject: String = "Backup failed",
        body: String = "The nightly backup failed.", messageID: String = "<evt_1@pbx1.example.com>",
        eventType: String? = "backup.failed"
    ) throws -> EmailMessage {
        try EmailMessage(
            from: from ?? EmailAddress("pbx@example.com", displayName: "PBX"),
            to: to ?? [EmailAddress("ops@example.com")], subject: subject, body: body, date: Self.date,
            messageID: messageID, eventType: eventType)
    }

    func text(_ message: EmailMessage) -> String { String(decoding: message.render(), as: UTF8.self) }

    // MARK: Headers

    @Test func aPlainMessageRendersExactly() throws {
        #expect(
            text(try message()) == """
                Date: Fri, 27 Nov 2026 01:02:03 +0000\r
                From: PBX <pbx@example.com>\r
                To: ops@example.com\r
                Subject: Backup failed\r
                Message-ID: <evt_1@pbx1.example.com>\r
                MIME-Version: 1.0\r
                Content-Type: text/plain; charset=utf-8\r
                Content-Transfer-Encoding: quoted-printable\r
                Auto-Submitted: auto-generated\r
                X-Lifeboat-Event: backup.failed\r
                \r
                The nightly backup failed.\r

                """)
    }

    @Test func datesAreRFC5322InUTC() {
        #expect(EmailMessage.rfc5322Date(Self.date) == "Fri, 27 Nov 2026 01:02:03 +0000")
        #expect(
            EmailMessage.rfc5322Date(Date(timeIntervalSince1970: 1_799_104_199)) == "Mon, 04 Jan 2027 23:09:59 +0000")
        #expect(EmailMessage.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }

    @Test func messageIDsAreKeptAndMadeStable() throws {
        #expect(try message(messageID: "abc.def@host.example").messageID == "<abc.def@host.example>")
        let id = try EmailMessage.makeMessageID(notificationID: "ntf_01/ä b..c.", domain: "pbx1.example.com")
        #expect(id == "<ntf_01/---b.-c@pbx1.example.com>")
        #expect(try EmailMessage.makeMessageID(notificationID: "ntf_01/ä b..c.", domain: "pbx1.example.com") == id)
        #expect(try message(messageID: id).messageID == id)
        #expect(throws: EmailError.self) { try EmailMessage.makeMessageID(notificationID: "x", domain: "bad domain") }
    }

    @Test func aDigestMayHaveNoEventTypeHeader() throws {
        let rendered = text(try message(eventType: nil))
        #expect(!rendered.contains("X-Lifeboat-Event"))
        #expect(throws: EmailError.self) { try message(eventType: "Backup Failed") }
    }

    // MARK: Header injection

    @Test(arguments: [
        "Backup failed\r\nBcc: attacker@example.net", "Backup failed\nBcc: attacker@example.net",
        "Backup failed\rBcc: attacker@example.net", "Backup\u{0}failed", "Backup\tfailed", "Backup\u{85}failed",
        "Backup\u{7F}failed",
    ])
    func controlCharactersInTheSubjectAreRefused(subject: String) throws {
        let error = try #require(throws: EmailError.self) { try message(subject: subject) }
        #expect(error.field == "subject")
        #expect(!error.description.contains("\n") && !error.description.contains("\r"))
    }

    @Test func injectionThroughAddressesNamesAndIDsIsRefused() throws {
        let attempts: [(String, () throws -> Any)] = [
            (
                "from display name",
                {
                    try EmailAddress("pbx@example.com", displayName: "PBX\r\nBcc: x@example.net", field: "from")
                }
            ),
            ("address", { try EmailAddress("pbx@example.com\r\nBcc: x@example.net") }),
            ("address", { try EmailAddress("pbx@example.com\n") }),
            ("from", { try EmailAddress(parsing: "PBX <pbx@example.com>\r\nBcc: x@example.net", field: "from") }),
            ("message_id", { try self.message(messageID: "<a@b>\r\nBcc: x@example.net") }),
            ("message_id", { try self.message(messageID: "<a@b> <c@d>") }),
            ("message_id", { try self.message(messageID: "<a<b@c>") }),
            ("event type", { try self.message(eventType: "backup.failed\r\nBcc: x@example.net") }),
            ("to", { try self.message(to: []) }),
        ]
        for (field, attempt) in attempts {
            let error = try #require(throws: EmailError.self) { try attempt() }
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func displayNamesAreCheckedWhenTheMessageIsMade() throws {
        // EmailAddress refuses these too; the message checks again what it puts in headers.
        let from = try EmailAddress("pbx@example.com", displayName: "PBX")
        let rendered = text(try message(from: from))
        #expect(rendered.contains("From: PBX <pbx@example.com>\r\n"))
        #expect(throws: EmailError.self) { try EmailAddress("ops@example.com", displayName: "Ops\u{0}", field: "to") }
    }

    // MARK: Addresses

    @Test(arguments: [
        "ops@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.ie", "x_y-z@a-b.example",
        "a@b", "UPPER@EXAMPLE.COM",
    ])
    func validAddresses(address: String) throws {
        #expect(try EmailAddress(address).address == address)
    }

    @Test(arguments: [
        "", "ops", "ops@", "@example.com", "ops example@example.com", "ops@exam ple.com", "<ops@example.com>",
        "ops@@example.com", "ops@a@example.com", "ops..x@example.com", ".ops@example.com", "ops.@example.com",
        "ops@-example.com", "ops@example-.com", "ops@example..com", "ops@.example.com", "jörg@example.com",
        "ops@exämple.com", "\"ops\"@example.com", "ops@[127.0.0.1]", "ops(comment)@example.com",
        "ops@example.com\r\n", String(repeating: "a", count: 65) + "@example.com",
    ])
    func invalidAddressesAreRefused(address: String) throws {
        let error = try #require(throws: EmailError.self) { try EmailAddress(address, field: "to") }
        #expect(error.field == "to")
        #expect(error.message.contains("not a valid address") || error.message.contains("line break"))
    }

    @Test func fromIsParsedWithOrWithoutADisplayName() throws {
        let bare = try EmailAddress(parsing: "pbx@example.com")
        #expect(bare.address == "pbx@example.com" && bare.displayName == nil)
        let named = try EmailAddress(parsing: "  PBX Zentrale <pbx@example.com> ")
        #expect(named.address == "pbx@example.com" && named.displayName == "PBX Zentrale")
        let quoted = try EmailAddress(parsing: #""Ops, \"Berlin\"" <ops@example.com>"#)
        #expect(quoted.displayName == #"Ops, "Berlin""#)
        let unicode = try EmailAddress(parsing: "Zürich PBX <pbx@example.ch>")
        #expect(unicode.displayName == "Zürich PBX")
        for bad in ["PBX <pbx@example.com", "PBX <pbx@example.com> x", "PB<X <pbx@example.com>", "PBX <>"] {
            #expect(throws: EmailError.self, "\(bad)") { try EmailAddress(parsing: bad) }
        }
    }

    @Test func displayNamesAreQuotedOrEncoded() throws {
        let rendered = text(
            try message(
                from: EmailAddress("pbx@example.com", displayName: "Ops, Berlin \"Nord\""),
                to: [EmailAddress("a@example.com", displayName: "Jörg Müller"), EmailAddress("b@example.com")]))
        let mail = try RawMail(Array(rendered.utf8))
        #expect(mail.header("From") == #""Ops, Berlin \"Nord\"" <pbx@example.com>"#)
        let to = try #require(mail.header("To"))
        #expect(to.hasPrefix("=?utf-8?B?"))
        #expect(try RawMail.decodeEncodedWords(to) == "Jörg Müller <a@example.com>, b@example.com")
    }

    @Test func manyRecipientsAreFolded() throws {
        let to = try (0..<12).map { try EmailAddress("operator\($0)@example.com", displayName: "Operator \($0)") }
        let mail = try RawMail(try message(to: to).render())
        let lines = mail.headerLines.drop { !$0.hasPrefix("To:") }.prefix { $0.hasPrefix("To:") || $0.hasPrefix(" ") }
        #expect(lines.count > 1)
        for line in lines { #expect(line.utf8.count <= 76) }
        #expect(
            mail.header("To")
                == to.map { "\($0.displayName!) <\($0.address)>" }.joined(separator: ", "))
    }

    // MARK: Subjects (RFC 2047)

    @Test(arguments: [
        "Sicherung fehlgeschlagen: Größe überschritten",
        "[alert] pbx1: " + String(repeating: "Übertragung fehlgeschlagen ", count: 6),
        String(repeating: "日本語の件名", count: 20),
        String(repeating: "💾🛟👨‍👩‍👧‍👦", count: 15),
        "a" + String(repeating: "é", count: 100),
        "ASCII but =?utf-8?B?looks encoded?=",
        "ASCII with  double  spaces and a trailing one ",
        " leading space",
        String(repeating: "x", count: 120),
        "[warning] pbx1: " + String(repeating: "a long ascii subject ", count: 10),
        "",
    ])
    func subjectsRoundTripAndRespectLineLimits(subject: String) throws {
        let mail = try RawMail(try message(subject: subject).render())
        #expect(mail.hasOnlyCRLF)
        let lines = mail.headerLines.drop { !$0.hasPrefix("Subject:") }.prefix {
            $0.hasPrefix("Subject:") || $0.hasPrefix(" ")
        }
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.utf8.count <= 76, "line of \(line.utf8.count): \(line)")
            #expect(line.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        }
        // Each encoded-word decodes on its own (RawMail refuses a character split across words).
        let value = try #require(mail.header("Subject"))
        #expect(try RawMail.decodeEncodedWords(value) == subject)
    }

    @Test func plainASCIISubjectsAreFoldedAtSpacesNotEncoded() throws {
        let subject =
            "[warning] pbx1: "
            + String(repeating: "storage low on store ", count: 6).trimmingCharacters(in: .whitespaces)
        let mail = try RawMail(try message(subject: subject).render())
        let value = try #require(mail.header("Subject"))
        #expect(!value.contains("=?"))
        #expect(value == subject)
        #expect(mail.headerLines.filter { $0.hasPrefix(" ") }.count >= 1)
    }

    // MARK: Bodies (quoted-printable)

    /// `text` encoded, its lines, and the encoded text decoded again.
    func encode(_ text: String) throws -> (lines: [String], decoded: String) {
        let encoded = QuotedPrintable.encode(text)
        let lines = encoded.components(separatedBy: "\r\n")
        for line in lines {
            #expect(line.utf8.count <= 76, "line of \(line.utf8.count): \(line)")
            #expect(line.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 < 0x7F) }, "\(line.debugDescription)")
        }
        return (lines, try RawMail.decodeQuotedPrintable(lines))
    }

    @Test func aLineOfExactly76CharactersIsNotBroken() throws {
        let line = String(repeating: "0123456789", count: 7) + "abcdef"
        let (lines, decoded) = try encode(line)
        #expect(lines == [line])
        #expect(decoded == line)
    }

    @Test func aLineOf77CharactersGetsOneSoftBreak() throws {
        let line = String(repeating: "0123456789", count: 7) + "abcdefg"
        let (lines, decoded) = try encode(line)
        #expect(lines.count == 2)
        #expect(lines[0].hasSuffix("=") && lines[0].utf8.count == 76)
        #expect(decoded == line)
    }

    @Test func equalsSignsAreEscaped() throws {
        let (lines, decoded) = try encode("a=b ==")
        #expect(lines == ["a=3Db =3D=3D"])
        #expect(decoded == "a=b ==")
        let many = String(repeating: "=", count: 60)
        let encodedMany = try encode(many)
        #expect(encodedMany.decoded == many)
        for line in encodedMany.lines.dropLast() {
            #expect(line.hasSuffix("=") && !line.hasSuffix("=="), "a soft break inside an escape: \(line)")
        }
    }

    @Test func trailingWhitespaceIsEncodedAndInnerWhitespaceIsNot() throws {
        let (lines, decoded) = try encode("a b  \nc\t\n \n\t")
        #expect(lines == ["a b =20", "c=09", "=20", "=09"])
        #expect(decoded == "a b  \nc\t\n \n\t")
        // A space that lands just before a soft break is not at the end of a line.
        let spaced = String(repeating: "x", count: 74) + " y"
        #expect(try encode(spaced).decoded == spaced)
        let trailing = String(repeating: "x", count: 75) + " "
        let result = try encode(trailing)
        #expect(result.decoded == trailing)
        #expect(result.lines.last == "=20")
    }

    @Test func lineBreaksOfEveryKindBecomeCRLF() throws {
        #expect(QuotedPrintable.encode("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd")
        #expect(QuotedPrintable.encode("\n\n") == "\r\n\r\n")
        #expect(String(decoding: try message(body: "x\r\n").render(), as: UTF8.self).hasSuffix("\r\n\r\nx\r\n"))
        #expect(String(decoding: try message(body: "x").render(), as: UTF8.self).hasSuffix("\r\n\r\nx\r\n"))
    }

    @Test func longLinesAreBrokenAndComeBackWhole() throws {
        let long = String(repeating: "The quick brown fox = jumps over the lazy dog. ", count: 30)
        let (lines, decoded) = try encode(long)
        #expect(lines.count > 15)
        #expect(decoded == long)
    }

    @Test(arguments: ["ä", "€", "💾", "👨‍👩‍👧", "é"])
    func multiByteCharactersAreNeverSplitBySoftBreaks(character: String) throws {
        for prefix in 0..<12 {
            let text = String(repeating: "x", count: prefix) + String(repeating: character, count: 40)
            let (lines, decoded) = try encode(text)
            #expect(decoded == text)
            for line in lines {
                // Each line on its own decodes to whole UTF-8 characters.
                #expect(throws: Never.self, "\(line)") { try RawMail.decodeQuotedPrintableLine(line) }
            }
        }
    }

    @Test func fromAtTheStartOfALineIsProtected() throws {
        let (lines, decoded) = try encode("From here\nnot From here")
        #expect(lines == ["=46rom here", "not From here"])
        #expect(decoded == "From here\nnot From here")
    }

    /// `text` with CRLF, CR and LF all written as LF.
    static func withLFBreaks(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            if scalar == "\r" {
                result.append("\n")
            } else if !(scalar == "\n" && previousWasCarriageReturn) {
                result.append(scalar)
            }
            previousWasCarriageReturn = scalar == "\r"
        }
        return String(result)
    }

    @Test func randomTextRoundTrips() throws {
        var generator = SeededGenerator(seed: 0x5EED_CAFE)
        let alphabet: [String] = [
            "a", "Z", "0", " ", " ", "\t", "=", "==", ".", "\n", "\r\n", "\r", "ä", "€", "💾", "日", "=?",
            "From ", "\u{0}", "\u{7F}", "~", "_",
        ]
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<Int.random(in: 0..<400, using: &generator) {
                text += alphabet.randomElement(using: &generator)!
            }
            let (_, decoded) = try encode(text)
            let expected = Self.withLFBreaks(text)
            #expect(decoded == expected, "\(text.debugDescription)")
        }
    }
}
