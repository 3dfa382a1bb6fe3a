import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// The SMTP notifier against the real servers of `packaging/test-servers.sh` (aiosmtpd with
/// STARTTLS required, implicit TLS and plain ports, a test CA, a login, recipients that are refused
/// or deferred on purpose) and against servers a test starts and stops itself (``SMTPTestServer``).
@Suite struct SMTPNotifierTests {
    let smtp: SMTPTestServers

    init() throws {
        smtp = try SMTPTestServers()
    }

    /// A message with everything that needs encoding: non-ASCII subject and display names, a body
    /// with `=`, trailing spaces, a 200-character line, multi-byte characters and a line with a dot.
    func message(to recipients: [String] = ["ops@example.com"], tag: String = #function) throws -> EmailMessage {
        let subject = "[alert] pbx1: Sicherung fehlgeschlagen – Größe überschritten 💾 (\(tag.prefix(20)))"
        let body =
            "Die nächtliche Sicherung ist fehlgeschlagen.\n"
            + "a=b; c==d; 100% = voll  \n"
            + ".\n"
            + ". a line starting with a dot\n"
            + String(repeating: "Ünïcödé ✓ ", count: 20) + "\n"
            + "\tindented with a tab\t\n"
            + "日本語のテキスト、絵文字 🛟 も。"
        return try EmailMessage(
            from: EmailAddress("pbx@example.com", displayName: "Lifeboat – Zentrale"),
            to: recipients.map { try EmailAddress($0, displayName: "Bereitschaft Müller") },
            subject: subject, body: body, date: Date(timeIntervalSince1970: 1_795_741_323),
            messageID: "<notif-\(UUID().uuidString)@pbx1.example.com>", eventType: "backup.failed")
    }

    // MARK: Delivered

    @Test(arguments: [SMTPConfiguration.Security.starttls, .tls])
    func aMessageArrivesIntactAndWellFormed(security: SMTPConfiguration.Security) throws {
        let message = try message(tag: "arrives-\(security)")
        let notifier = SMTPNotifier(configuration: try smtp.configuration(security: security))
        try notifier.send(message)

        let stored = try #require(try smtp.stored(messageID: message.messageID))
        #expect(stored.envelope["server"] as? String == security.rawValue)
        #expect(stored.envelope["tls"] as? Bool == true)
        #expect(stored.envelope["auth_user"] as? String == (try smtp.servers["SMTP_USERNAME"]))
        #expect(stored.envelope["mail_from"] as? String == "pbx@example.com")
        #expect(stored.envelope["rcpt_tos"] as? [String] == ["ops@example.com"])
        #expect(stored.raw == message.render(), "the server stored exactly the bytes rendered")

        let mail = try RawMail(stored.raw)
        #expect(mail.hasOnlyCRLF)
        #expect(stored.raw.allSatisfy { $0 < 0x80 }, "7-bit ASCII only")
        for line in mail.headerLines { #expect(line.utf8.count <= 78, "header line too long: \(line)") }
        for line in mail.bodyLines { #expect(line.utf8.count <= 76, "body line too long: \(line)") }
        #expect(mail.header("Date") == "Fri, 27 Nov 2026 01:02:03 +0000")
        #expect(mail.header("Message-ID") == message.messageID)
        #expect(mail.header("MIME-Version") == "1.0")
        #expect(mail.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(mail.header("Content-Transfer-Encoding") == "quoted-printable")
        #expect(mail.header("Auto-Submitted") == "auto-generated")
        #expect(mail.header("X-Lifeboat-Event") == "backup.failed")
        #expect(try RawMail.decodeEncodedWords(try #require(mail.header("Subject"))) == message.subject)
        #expect(
            try RawMail.decodeEncodedWords(try #require(mail.header("From")))
                == "Lifeboat – Zentrale <pbx@example.com>")
        #expect(
            try RawMail.decodeEncodedWords(try #require(mail.header("To")))
                == "Bereitschaft Müller <ops@example.com>")
        #expect(try mail.decodedBody() == message.body)

        // An independent parser agrees, and finds nothing wrong.
        let python = try smtp.pythonView(of: stored.path)
        #expect(python["subject"] as? String == message.subject)
        #expect(python["from"] as? [[String]] == [["Lifeboat – Zentrale", "pbx@example.com"]])
        #expect(python["to"] as? [[String]] == [["Bereitschaft Müller", "ops@example.com"]])
        #expect(python["date"] as? String == "2026-11-27T01:02:03+00:00")
        #expect(python["message_id"] as? String == message.messageID)
        #expect(python["charset"] as? String == "utf-8")
        #expect(python["transfer_encoding"] as? String == "quoted-printable")
        let body = (python["body"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(body == message.body + "\n")
        #expect(python["defects"] as? [String] == [])
    }

    @Test func plainTextNeedsAllowInsecureAndThenWorks() throws {
        #expect {
            _ = try smtp.configuration(security: .none)
        } throws: { error in
            let error = error as? DeliveryError
            return error?.kind == .permanent && error?.message.contains("allow_insecure") == true
                && error?.message.contains("clear text") == true
        }
        let message = try message(tag: "plain")
        try SMTPNotifier(configuration: try smtp.configuration(security: .none, allowInsecure: true)).send(message)
        let stored = try #require(try smtp.stored(messageID: message.messageID))
        #expect(stored.envelope["server"] as? String == "plain")
        #expect(stored.envelope["tls"] as? Bool == false)
    }

    @Test func everyRecipientOfTheEnvelopeGetsIt() throws {
        let message = try message(to: ["ops@example.com", "oncall@example.org"], tag: "two")
        try SMTPNotifier(configuration: try smtp.configuration()).send(
            message, to: ["ops@example.com", "oncall@example.org"])
        let stored = try #require(try smtp.stored(messageID: message.messageID))
        #expect(stored.envelope["rcpt_tos"] as? [String] == ["ops@example.com", "oncall@example.org"])
        let to = try RawMail.decodeEncodedWords(try #require(try RawMail(stored.raw).header("To")))
        #expect(to == "Bereitschaft Müller <ops@example.com>, Bereitschaft Müller <oncall@example.org>")
    }

    // MARK: Refused

    @Test func aWrongPasswordIsPermanentNamesTheUserAndHidesThePassword() throws {
        let wrong = "Wr0ng-Pa55word-\(UUID().uuidString.prefix(8))"
        let message = try message(tag: "wrong-password")
        let notifier = SMTPNotifier(configuration: try smtp.configuration(password: Secret(wrong)))
        let error = try #require(throws: DeliveryError.self) { try notifier.send(message) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("refused the login for user 'pbxtest'"))
        #expect(error.message.contains("535"))
        #expect(error.message.contains("notifications.smtp.username/password"))
        #expect(error.message.contains("127.0.0.1:\(try smtp.servers.port("SMTP_STARTTLS_PORT"))"))
        #expect(!"\(error)".contains(wrong))
        #expect(!"\(error)".contains(Data(wrong.utf8).base64EncodedString()))
        #expect(!"\(notifier)".contains(try smtp.password))
        #expect(try smtp.stored(messageID: message.messageID) == nil)
    }

    @Test(arguments: [("refused@example.com", "550"), ("unknown@example.com", "553")])
    func aRefusedRecipientIsPermanentAndNamed(recipient: String, code: String) throws {
        let message = try message(to: [recipient], tag: "refused-\(code)")
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: try smtp.configuration()).send(message)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("refused the recipient \(recipient)"))
        #expect(error.message.contains(code))
        #expect(error.message.contains("check the contact's email address"))
        #expect(try smtp.stored(messageID: message.messageID) == nil)
    }

    @Test func oneRefusedRecipientStopsTheWholeSend() throws {
        let recipients = ["ops@example.com", "refused@example.com"]
        let message = try message(to: recipients, tag: "partial")
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: try smtp.configuration()).send(message)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("refused@example.com"))
        #expect(try smtp.stored(messageID: message.messageID) == nil, "nothing is delivered to part of the list")
    }

    @Test(arguments: [("deferred@example.com", "451"), ("full@example.com", "452")])
    func aDeferredRecipientIsTransient(recipient: String, code: String) throws {
        let message = try message(to: [recipient], tag: "deferred-\(code)")
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: try smtp.configuration(security: .tls)).send(message)
        }
        #expect(error.kind == .transient)
        #expect(error.isRetryable)
        #expect(error.message.contains("deferred the recipient \(recipient)"))
        #expect(error.message.contains(code))
    }

    @Test func aMessageRefusedAfterDataIsPermanent() throws {
        let message = try message(to: ["spam@example.com"], tag: "spam")
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: try smtp.configuration()).send(message)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("refused the message"))
        #expect(error.message.contains("554"))
    }

    @Test func withoutALoginTheServerRefusesTheSender() throws {
        let message = try message(tag: "no-login")
        let configuration = try smtp.configuration(username: .some(nil), password: .some(nil))
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: configuration).send(message)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("requires a login"))
        #expect(error.message.contains("530"))
    }

    @Test func plainTextToAServerThatRequiresSTARTTLSIsRefusedByIt() throws {
        let message = try message(tag: "plain-to-starttls")
        let configuration = try smtp.configuration(
            security: .none, port: try smtp.servers.port("SMTP_STARTTLS_PORT"), allowInsecure: true)
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: configuration).send(message)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("requires STARTTLS"))
        #expect(error.message.contains("security: starttls"))
        #expect(try smtp.stored(messageID: message.messageID) == nil)
    }

    // MARK: TLS

    @Test func aServerWithoutSTARTTLSIsRefusedAndNothingGoesOutInPlainText() throws {
        let server = try SMTPTestServer(servers: smtp.servers, mode: "plain")
        let message = try message(tag: "no-starttls")
        let notifier = SMTPNotifier(configuration: try smtp.configuration(security: .starttls, port: server.port))
        let error = try #require(throws: DeliveryError.self) { try notifier.send(message) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("does not offer STARTTLS; refusing to send in plain text"))
        #expect(error.message.contains("127.0.0.1:\(server.port)"))
        #expect(try server.storedMessages().isEmpty)
        let commands = try server.sessionLog().compactMap { $0["command"] as? String }
        #expect(commands.first == "EHLO")
        #expect(Set(commands).isSubset(of: ["EHLO", "QUIT"]), "sent in plain text: \(commands)")
    }

    @Test(arguments: [SMTPConfiguration.Security.starttls, .tls])
    func anUntrustedCertificateIsPermanentAndPointsToCAFile(security: SMTPConfiguration.Security) throws {
        let message = try message(tag: "untrusted-\(security)")
        let notifier = SMTPNotifier(configuration: try smtp.configuration(security: security, caFile: .some(nil)))
        let error = try #require(throws: DeliveryError.self) { try notifier.send(message) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("is not trusted"))
        #expect(error.message.contains("notifications.smtp.ca_file"))
        #expect(!error.message.contains(try smtp.password))
        #expect(try smtp.stored(messageID: message.messageID) == nil)
    }

    @Test func anUnreadableCAFileIsPermanentAndNamed() throws {
        let notifier = SMTPNotifier(
            configuration: try smtp.configuration(caFile: "/nonexistent/lifeboat-test-ca.pem"))
        let error = try #require(throws: DeliveryError.self) { try notifier.send(try message(tag: "ca-file")) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("notifications.smtp.ca_file (/nonexistent/lifeboat-test-ca.pem)"))
    }

    @Test func implicitTLSOnASTARTTLSPortIsPermanent() throws {
        let configuration = try smtp.configuration(
            security: .tls, port: try smtp.servers.port("SMTP_STARTTLS_PORT"))
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: configuration).send(try message(tag: "tls-on-starttls"))
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("TLS with SMTP server"))
        #expect(error.message.contains("security"))
    }

    // MARK: Unreachable or busy

    @Test func aClosedPortIsTransient() throws {
        let port = try TestServers.closedPort()
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: try smtp.configuration(port: port)).send(try message(tag: "closed"))
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("could not reach SMTP server 127.0.0.1:\(port)"))
    }

    @Test func aServerThatGreetsWith421IsTransient() throws {
        let server = try SMTPTestServer(servers: smtp.servers, mode: "tls", extraArguments: ["--greeting", "421"])
        let error = try #require(throws: DeliveryError.self) {
            try SMTPNotifier(configuration: try smtp.configuration(security: .tls, port: server.port))
                .send(try message(tag: "421"))
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("is not accepting mail now"))
        #expect(error.message.contains("421"))
    }

    @Test func aServerThatGoesAwayAndComesBack() throws {
        let server = try SMTPTestServer(servers: smtp.servers, mode: "starttls")
        let notifier = SMTPNotifier(configuration: try smtp.configuration(port: server.port))
        let first = try message(tag: "before")
        try notifier.send(first)
        #expect(try smtp.stored(messageID: first.messageID, mailbox: server.mailbox) != nil)

        server.stop()
        let error = try #require(throws: DeliveryError.self) { try notifier.send(try message(tag: "away")) }
        #expect(error.kind == .transient)

        try server.start()
        let again = try message(tag: "after")
        try notifier.send(again)
        #expect(try smtp.stored(messageID: again.messageID, mailbox: server.mailbox) != nil)
        #expect(try server.storedMessages().count == 2)
    }

    // MARK: Configuration

    @Test func configurationIsCheckedAtInit() throws {
        let from = try EmailAddress(parsing: "PBX <pbx@example.com>")
        func refusal(_ make: () throws(DeliveryError) -> SMTPConfiguration) -> String? {
            do {
                _ = try make()
                return nil
            } catch {
                return error.kind == .permanent ? error.message : "not permanent: \(error.message)"
            }
        }
        #expect(
            refusal { () throws(DeliveryError) in
                try SMTPConfiguration(host: "mail.example.com", security: .none, from: from)
            }?
            .contains("allow_insecure: true") == true)
        #expect(
            refusal { () throws(DeliveryError) in try SMTPConfiguration(host: "mail.example.com\r\nX", from: from) }?
                .contains("host") == true)
        #expect(
            refusal { () throws(DeliveryError) in try SMTPConfiguration(host: "mail.example.com", port: 0, from: from)
            }?
            .contains("port") == true)
        #expect(
            refusal { () throws(DeliveryError) in
                try SMTPConfiguration(host: "mail.example.com", username: "pbx", from: from)
            }?
            .contains("password is not") == true)
        #expect(
            refusal { () throws(DeliveryError) in
                try SMTPConfiguration(host: "mail.example.com", password: Secret("x"), from: from)
            }?.contains("username is not") == true)
        #expect(
            refusal { () throws(DeliveryError) in
                try SMTPConfiguration(host: "mail.example.com", from: from, timeout: 0)
            }?
            .contains("timeout") == true)

        let plain = try SMTPConfiguration(host: "mail.example.com", security: .none, from: from, allowInsecure: true)
        #expect(plain.port == 25)
        #expect(plain.url == "smtp://mail.example.com:25")
        let implicit = try SMTPConfiguration(host: "mail.example.com", security: .tls, from: from)
        #expect(implicit.port == 465)
        #expect(implicit.url == "smtps://mail.example.com:465")
        let secret = "s3cret-Password"
        let starttls = try SMTPConfiguration(
            host: "2001:db8::25", username: "pbx", password: Secret(secret), from: from)
        #expect(starttls.port == 587)
        #expect(starttls.url == "smtp://[2001:db8::25]:587")
        #expect("\(starttls)" == "smtp [2001:db8::25]:587 (starttls, login pbx)")
        #expect(!"\(starttls)".contains(secret))
    }

    @Test func badRecipientsAreRefusedBeforeConnecting() throws {
        // A closed port: a refusal that came from the server would be transient.
        let notifier = SMTPNotifier(configuration: try smtp.configuration(port: try TestServers.closedPort()))
        let message = try message(tag: "bad-rcpt")
        for recipients in [[], ["ops@example.com\r\nRCPT TO:<x@example.com>"], ["<ops@example.com>"], ["ops"]] {
            let error = try #require(throws: DeliveryError.self) { try notifier.send(message, to: recipients) }
            #expect(error.kind == .permanent, "\(recipients)")
        }
    }
}
