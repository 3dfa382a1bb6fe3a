import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// Email templates: placeholders, the built-in texts, subjects that stay one line whatever the
/// values hold, per-type lookup, and digests of several events.
@Suite struct EmailTemplateTests {
    static let time = Date(timeIntervalSince1970: 1_795_741_323)  // 2026-11-27T01:02:03Z

    func event(
        type: String = "backup.failed", level: EventLevel = .alert, time: Date = EmailTemplateTests.time,
        attributes: [String: String] = ["job": "nightly", "store": "s3", "error": "connection reset"],
        message: String? = "The nightly backup failed."
    ) -> Event {
        Event(
            id: "evt_01k0000000abcdefghjkmnpqrs", type: type, level: level, time: time, source: "agent",
            attributes: attributes, message: message)
    }

    @Test func theDefaultSubjectAndBody() {
        let rendered = EmailTemplate.standard.render(event(), host: "pbx1")
        #expect(rendered.subject == "[alert] pbx1: backup.failed")
        #expect(
            rendered.body == """
                The nightly backup failed.

                Event:   backup.failed
                Level:   alert
                Host:    pbx1
                Time:    2026-11-27T01:02:03Z
                Source:  agent
                Id:      evt_01k0000000abcdefghjkmnpqrs

                Attributes:
                  error: connection reset
                  job: nightly
                  store: s3

                Sent by Lifeboat on pbx1.
                """)
    }

    @Test func anEventWithoutMessageOrAttributes() {
        let rendered = EmailTemplate.standard.render(event(attributes: [:], message: nil), host: "pbx1")
        #expect(rendered.body.hasPrefix("Event:   backup.failed\n"))
        #expect(rendered.body.contains("Attributes:\n  (none)\n"))
    }

    @Test func everyPlaceholder() {
        let template = EmailTemplate(
            subject: "{{ level }}/{{type}}/{{host}}",
            body: "{{time}}|{{message}}|{{id}}|{{source}}|{{attr.job}}|{{attr.missing}}|{{unknown}}|{{attr.}}|{{open")
        let rendered = template.render(event(), host: "pbx1")
        #expect(rendered.subject == "alert/backup.failed/pbx1")
        #expect(
            rendered.body
                == "2026-11-27T01:02:03Z|The nightly backup failed.|evt_01k0000000abcdefghjkmnpqrs|agent|nightly||"
                + "{{unknown}}|{{attr.}}|{{open")
        #expect(template.unknownPlaceholders == ["unknown", "attr."])
        #expect(EmailTemplate.standard.unknownPlaceholders.isEmpty)
    }

    @Test func aMultiLineAttributeStaysReadableInTheBody() {
        let rendered = EmailTemplate.standard.render(event(attributes: ["error": "line one\nline two"]), host: "pbx1")
        #expect(rendered.body.contains("  error: line one\n         line two\n"))
    }

    @Test func valuesCannotBreakTheSubject() throws {
        let hostile = event(
            type: "pbx.web_user_locked_out", attributes: ["user": "admin\r\nBcc: attacker@example.net\u{7}"],
            message: "Locked\nout")
        let template = EmailTemplate(subject: "{{message}}: {{attr.user}}\n{{type}}")
        let rendered = template.render(hostile, host: "pbx1\r\n")
        #expect(rendered.subject == "Locked out: admin Bcc: attacker@example.net  pbx.web_user_locked_out")
        #expect(!rendered.subject.unicodeScalars.contains { $0.properties.generalCategory == .control })
        // So the message accepts it, and its Subject header is one field.
        let message = try EmailMessage(
            from: EmailAddress("pbx@example.com"), to: [EmailAddress("ops@example.com")], subject: rendered.subject,
            body: rendered.body, date: Self.time, messageID: "<x@pbx1>")
        let mail = try RawMail(message.render())
        #expect(mail.fields.filter { $0.name.lowercased() == "bcc" }.isEmpty)
        #expect(try RawMail.decodeEncodedWords(try #require(mail.header("Subject"))) == rendered.subject)
    }

    @Test func templatesAreChosenByTypeThenFamilyThenFallback() {
        let exact = EmailTemplate(subject: "exact")
        let pbx = EmailTemplate(subject: "pbx family")
        let trunk = EmailTemplate(subject: "trunk family")
        let templates = EmailTemplates(
            byType: ["backup.failed": exact, "pbx.*": pbx, "pbx.sip_trunk.*": trunk])
        #expect(templates.template(for: "backup.failed") == exact)
        #expect(templates.template(for: "pbx.web_user_locked_out") == pbx)
        #expect(templates.template(for: "pbx.sip_trunk.registration_failed") == trunk)
        #expect(templates.template(for: "backup.succeeded") == .standard)
        #expect(templates.template(for: "pbx") == .standard)
        #expect(templates.render(event(type: "pbx.web_user_locked_out"), host: "h").subject == "pbx family")
        #expect(templates.problems.isEmpty)
        let broken = EmailTemplates(byType: ["Backup Failed": exact, "pbx.*": EmailTemplate(body: "{{lvel}}")])
        #expect(broken.problems.count == 2)
        #expect(broken.problems.contains { $0.contains("'Backup Failed'") })
        #expect(broken.problems.contains { $0.contains("{{lvel}}") })
    }

    // MARK: Digests

    @Test func aDigestOfThreeEventsListsAllThree() throws {
        let events = [
            event(
                type: "upload.failed", level: .warning, time: Self.time.addingTimeInterval(60),
                attributes: ["store": "ftp", "error": "550 quota"], message: "Upload to ftp failed."),
            event(type: "backup.failed", level: .alert, time: Self.time, attributes: ["job": "nightly"]),
            event(
                type: "store.unreachable", level: .information, time: Self.time.addingTimeInterval(120),
                attributes: [:], message: nil),
        ]
        let digest = EmailTemplate.renderDigest(events, host: "pbx1")
        #expect(digest.subject == "[alert] pbx1: 3 events (backup.failed, upload.failed, store.unreachable)")
        #expect(
            digest.body == """
                3 events on pbx1 from 2026-11-27T01:02:03Z to 2026-11-27T01:04:03Z:

                1. 2026-11-27T01:02:03Z  alert  backup.failed
                   The nightly backup failed.
                   Source: agent   Id: evt_01k0000000abcdefghjkmnpqrs
                   Attributes:
                     job: nightly

                2. 2026-11-27T01:03:03Z  warning  upload.failed
                   Upload to ftp failed.
                   Source: agent   Id: evt_01k0000000abcdefghjkmnpqrs
                   Attributes:
                     error: 550 quota
                     store: ftp

                3. 2026-11-27T01:04:03Z  information  store.unreachable
                   Source: agent   Id: evt_01k0000000abcdefghjkmnpqrs

                Sent by Lifeboat on pbx1.
                """)
        // And it goes out as one well-formed message.
        let message = try EmailMessage(
            from: EmailAddress("pbx@example.com"), to: [EmailAddress("ops@example.com")], subject: digest.subject,
            body: digest.body, date: Self.time, messageID: "<digest-1@pbx1>")
        #expect(try RawMail(message.render()).decodedBody() == digest.body)
    }

    @Test func aDigestSubjectNamesAtMostThreeTypes() {
        let events = ["a.one", "b.two", "c.three", "d.four", "a.one"].enumerated().map { index, type in
            event(type: type, level: .warning, time: Self.time.addingTimeInterval(Double(index)))
        }
        let digest = EmailTemplate.renderDigest(events, host: "pbx1")
        #expect(digest.subject == "[warning] pbx1: 5 events (a.one, b.two, c.three, …)")
        for type in ["a.one", "b.two", "c.three", "d.four"] { #expect(digest.body.contains("  \(type)\n")) }
        #expect(digest.body.contains("5. "))
    }

    @Test func aDigestOfOneOrNoEvents() {
        let one = EmailTemplate.renderDigest([event()], host: "pbx1")
        #expect(one.subject == "[alert] pbx1: 1 event (backup.failed)")
        #expect(one.body.hasPrefix("1 event on pbx1 at 2026-11-27T01:02:03Z:\n"))
        let none = EmailTemplate.renderDigest([], host: "pbx1")
        #expect(none.subject == "[information] pbx1: no events")
    }
}
