import Foundation
import LifeboatCore
import Logging

/// Sends one notification (one event, or a digest of several) to a contact by one method, through
/// the configured SMTP server, the contact's webhook or the AMI.
///
/// The notification's id is its idempotency key: the email's Message-ID is made from it, the
/// webhook carries it as `Idempotency-Key`, and the call carries the newest event's id, so a
/// notification resent after a crash can be recognised as the same one.
public struct NotificationChannels: Sendable {
    /// `notifications.smtp`; email is impossible without it.
    public var smtp: SMTPConfiguration?
    /// `notifications.ami`; calls are impossible without it.
    public var ami: AMIConfiguration?
    /// `notifications.templates`.
    public var templates: EmailTemplates
    /// The agent's host name, in subjects, bodies and the Message-ID's domain.
    public var host: String
    public var agentVersion: String
    public var logger: Logger?

    public init(
        smtp: SMTPConfiguration?, ami: AMIConfiguration?, templates: EmailTemplates = EmailTemplates(), host: String,
        agentVersion: String, logger: Logger? = nil
    ) {
        self.smtp = smtp
        self.ami = ami
        self.templates = templates
        self.host = host
        self.agentVersion = agentVersion
        self.logger = logger
    }

    /// What is missing for `contact` to use `method` with these channels, or nil.
    public func problem(contact: Contact, method: NotificationMethod) -> String? {
        if let problem = contact.problem(with: method) { return problem }
        switch method {
        case .email where smtp == nil: return "method email needs notifications.smtp"
        case .callExtension where ami == nil, .callMobile where ami == nil:
            return "method \(method.rawValue) needs notifications.ami"
        default: return nil
        }
    }

    /// Delivers `events` (oldest first, at least one) as notification `id`; returns once the channel
    /// accepted it (the SMTP server took the message, the webhook answered 2xx, the call was answered).
    public func deliver(id: String, events: [Event], to contact: Contact, by method: NotificationMethod)
        throws(DeliveryError)
    {
        guard let newest = events.last else { throw DeliveryError(.permanent, "notification \(id) has no events") }
        if let problem = problem(contact: contact, method: method) {
            throw DeliveryError(.permanent, "contact \(contact.name): \(problem)")
        }
        switch method {
        case .email:
            let rendered =
                events.count == 1
                ? templates.render(newest, host: host) : EmailTemplate.renderDigest(events, host: host)
            let message: EmailMessage
            do {
                message = try EmailMessage(
                    from: smtp!.from, to: contact.email, subject: rendered.subject, body: rendered.body, date: Date(),
                    messageID: EmailMessage.makeMessageID(notificationID: id, domain: Self.domain(host)),
                    eventType: events.count == 1 ? newest.type : nil)
            } catch {
                throw DeliveryError(.permanent, "contact \(contact.name): cannot make the email: \(error)")
            }
            try SMTPNotifier(configuration: smtp!).send(message)
        case .webhook:
            let body =
                events.count == 1
                ? WebhookPayload.body(for: newest, host: host) : WebhookPayload.body(digest: events, host: host)
            try WebhookNotifier(configuration: contact.webhook!, agentVersion: agentVersion)
                .send(body: body, idempotencyKey: id)
        case .callExtension, .callMobile:
            // A call announces one event: the most urgent of the digest, the newest among equals.
            let announced = events.reversed().max { $0.level < $1.level } ?? newest
            let notifier = try CallNotifier(configuration: ami!, hostName: host, logger: logger)
            if method == .callExtension {
                try notifier.call(extension: contact.extension!, event: announced)
            } else {
                try notifier.call(mobile: contact.mobile!, event: announced)
            }
        }
    }

    /// A Message-ID domain from the host name: itself when it is a usable domain, else `host.lifeboat.invalid`.
    static func domain(_ host: String) -> String {
        let usable = !host.isEmpty && host.utf8.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D
                || $0 == 0x2E
        }
        return usable ? host : "host.lifeboat.invalid"
    }
}
