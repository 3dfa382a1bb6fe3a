import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// The relay's channels composed for a contact, against real servers: one event or a digest by email
/// (the shared SMTP server), by webhook (the webhook test server) and by a call (the AMI test server).
@Suite struct NotificationChannelsTests {
    static let events = [
        Event(
            type: "pbx.web_user_locked_out", level: .alert, time: Date(timeIntervalSince1970: 1_795_000_000),
            source: "api", attributes: ["user": "admin"], message: "admin locked out"),
        Event(
            type: "backup.failed", level: .warning, time: Date(timeIntervalSince1970: 1_795_000_060),
            source: "agent", attributes: ["job": "nightly"], message: "nightly failed"),
    ]

    @Test func aDigestGoesOutByEachMethodUnderTheNotificationsID() throws {
        let smtp = try SMTPTestServers()
        let hook = try WebhookTestServer()
        let ami = try AMITestServer()
        let channels = NotificationChannels(
            smtp: try smtp.configuration(), ami: CallNotifierTests.configuration(port: ami.port),
            host: "pbx1", agentVersion: "test")
        let contact = Contact(
            name: "ops", methods: [.email, .webhook, .callExtension],
            email: [try EmailAddress(parsing: "ops@example.com")], extension: "1001",
            webhook: WebhookConfiguration(url: hook.url, secret: Secret(WebhookTestServer.secret), caFile: hook.caFile))
        let id = "ntf_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")

        try channels.deliver(id: id, events: Self.events, to: contact, by: .email)
        let mail = try #require(try smtp.stored(messageID: "<\(id)@pbx1>"))
        let message = try RawMail(mail.raw)
        #expect(message.header("Subject") == "[alert] pbx1: 2 events (pbx.web_user_locked_out, backup.failed)")
        #expect(message.header("X-Lifeboat-Event") == nil, "a digest names no single type")
        let body = try message.decodedBody()
        #expect(body.contains("admin locked out") && body.contains("nightly failed"))

        try channels.deliver(id: id, events: Self.events, to: contact, by: .webhook)
        let request = try #require(try hook.log().last)
        #expect(request.signatureValid)
        #expect(request.idempotencyKey == id)
        let json = try JSONSerialization.jsonObject(with: Data((request.body ?? "").utf8)) as? [String: Any]
        #expect(json?["kind"] as? String == "digest" && json?["count"] as? Int == 2)

        try channels.deliver(id: id, events: Self.events, to: contact, by: .callExtension)
        let call = try #require(try ami.log().calls.last)
        #expect(call.channel == "Local/1001@from-internal")
        // The call announces the most urgent event of the digest.
        #expect(call.variables["LIFEBOAT_TYPE"] == "pbx.web_user_locked_out")
        #expect(call.variables["LIFEBOAT_EVENT"] == Self.events[0].id)
    }

    @Test func aMethodWithoutItsChannelIsAPermanentFailure() throws {
        let channels = NotificationChannels(smtp: nil, ami: nil, host: "pbx1", agentVersion: "test")
        let contact = Contact(name: "ops", methods: [.callMobile], mobile: "+4915100000000")
        let error = try #require(throws: DeliveryError.self) {
            try channels.deliver(id: "ntf_x", events: Self.events, to: contact, by: .callMobile)
        }
        #expect(error.kind == .permanent)
        #expect(error.message == "contact ops: method call_mobile needs notifications.ami")
    }
}
