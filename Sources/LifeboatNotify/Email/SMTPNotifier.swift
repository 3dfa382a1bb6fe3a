import Foundation
import LifeboatCore
import LifeboatCurl

/// Sends notification emails through an SMTP server with libcurl.
///
/// Each send is one SMTP session on a connection of its own: TLS as configured (STARTTLS required,
/// never opportunistic, or implicit TLS; the certificate is verified against the system's CAs or
/// `ca_file`), AUTH PLAIN or LOGIN when a username is set, `MAIL FROM` the configured sender,
/// one `RCPT TO` per recipient (any refused recipient fails the whole send: nothing is delivered
/// to a partial list), then the message.
///
/// How failures are classified (``DeliveryError``):
/// - transient (retry with backoff): the server cannot be reached (refused connection, DNS,
///   timeout, broken connection) and every 4xx reply (421 closing, 450/451 try later, 452 out of
///   storage or too many recipients, 454 STARTTLS or login not available now);
/// - permanent (fall back to the contact's next method): a refused login (535), a refused sender or
///   recipient (5xx to MAIL or RCPT, naming the address), a refused message (5xx after DATA), a
///   server that does not offer STARTTLS when it is required, a certificate that is not trusted or
///   a TLS handshake that fails, and a 5xx greeting.
///
/// Messages name the server, its answer and what to check; never the password.
///
/// Sending blocks until the server answered: call it from a thread of your own, never from Swift's
/// cooperative pool.
public final class SMTPNotifier: Sendable, CustomStringConvertible {
    public let configuration: SMTPConfiguration

    public init(configuration: SMTPConfiguration) {
        self.configuration = configuration
    }

    public var description: String { "email notifier via \(configuration)" }

    /// Sends `message` to its `To` addresses.
    public func send(_ message: EmailMessage) throws(DeliveryError) {
        try send(message, to: message.recipientAddresses)
    }

    /// Sends `message` to `recipients` (the SMTP envelope, which may differ from the message's `To`).
    public func send(_ message: EmailMessage, to recipients: [String]) throws(DeliveryError) {
        let server = "SMTP server \(configuration.serverDescription)"
        guard !recipients.isEmpty else {
            throw DeliveryError(.permanent, "email via \(server): no recipients were given")
        }
        for recipient in recipients {
            do {
                try EmailAddress.validate(recipient, field: "recipient")
            } catch {
                throw DeliveryError(.permanent, "email via \(server): \(error.message)")
            }
        }

        var transfer = CurlTransfer(url: configuration.url)
        transfer.username = configuration.username
        transfer.password = configuration.password
        transfer.caFile = configuration.caFile
        transfer.tlsUpgrade = configuration.security == .starttls ? .required : .none
        transfer.mailFrom = "<\(configuration.from.address)>"
        transfer.mailRecipients = recipients.map { "<\($0)>" }
        transfer.body = .bytes(message.render())
        transfer.connectTimeout = configuration.timeout
        transfer.lowSpeedLimit = 1
        transfer.lowSpeedTime = configuration.timeout

        do {
            // A connection per send: notifications are rare, and a pooled SMTP session would only
            // time out on the server between them.
            let handle = try CurlHandle()
            _ = try handle.perform(transfer)
        } catch let error as CurlError {
            throw deliveryError(error, recipients: recipients)
        } catch {
            throw DeliveryError(.transient, "email via \(server) failed: \(redacted(String(describing: error)))")
        }
    }
}
