import Foundation
import LifeboatCurl

extension SMTPNotifier {
    /// The SMTP command a negative reply answered, as told by libcurl's error message.
    enum Stage {
        case greeting, sender, recipient, dataCommand, message, unknown

        init(curlMessage message: String) {
            // libcurl 7.88 to 8.x: "Got unexpected smtp-server response: 421", "MAIL failed: 550",
            // "RCPT failed: 550", "DATA failed: 554"; a refused message (after the final ".") leaves
            // the error buffer empty, so the message is curl_easy_strerror's "Weird server reply".
            if message.hasPrefix("Got unexpected smtp-server response") {
                self = .greeting
            } else if message.hasPrefix("MAIL failed") {
                self = .sender
            } else if message.hasPrefix("RCPT failed") {
                self = .recipient
            } else if message.hasPrefix("DATA failed") {
                self = .dataCommand
            } else if message == "Weird server reply" {
                self = .message
            } else {
                self = .unknown
            }
        }
    }

    /// The longest part of a server reply quoted in a message.
    static let replyLimit = 200

    /// Classifies a failed transfer and explains it: the server, its answer, what to check.
    func deliveryError(_ error: CurlError, recipients: [String]) -> DeliveryError {
        let server = "SMTP server \(configuration.serverDescription)"
        let code = error.responseCode
        let temporary = (400..<500).contains(code)
        let reply = serverReply(error)
        let answer = reply.map { "it answered \($0)" } ?? redacted(error.message)
        let user = configuration.username.map { "'\($0)'" } ?? "(none)"
        func transient(_ text: String) -> DeliveryError { DeliveryError(.transient, redacted(text)) }
        func permanent(_ text: String) -> DeliveryError { DeliveryError(.permanent, redacted(text)) }

        if error.isTLSUpgradeRefused {
            if temporary { return transient("\(server) cannot start TLS now (\(answer)); will retry") }
            return permanent(
                "\(server) does not offer STARTTLS; refusing to send in plain text (security: starttls). "
                    + "Check notifications.smtp.port and security: implicit TLS (usually port 465) is security: tls")
        }
        if error.isCertificateUntrusted {
            let hint =
                configuration.caFile.map {
                    "check that notifications.smtp.ca_file (\($0)) holds the CA that signed the server's certificate"
                } ?? "if it comes from a private CA, set notifications.smtp.ca_file to that CA's certificate"
            return permanent(
                "the TLS certificate of \(server) is not trusted (\(redacted(error.message))): \(hint); "
                    + "also check that notifications.smtp.host is a name the certificate holds")
        }
        if error.isCAFileUnusable {
            return permanent(
                "notifications.smtp.ca_file (\(configuration.caFile ?? "")) cannot be used: "
                    + "\(redacted(error.message)); it must be a readable PEM file of CA certificates")
        }

        switch error.kind {
        case .authentication:
            if temporary {
                return transient("\(server) could not check the login for user \(user) now (\(answer)); will retry")
            }
            if code >= 500 {
                return permanent(
                    "\(server) refused the login for user \(user) (\(answer)): "
                        + "check notifications.smtp.username/password")
            }
            return permanent(
                "\(server) offers no login method Lifeboat can use for user \(user) (\(redacted(error.message))): "
                    + "it needs AUTH PLAIN or LOGIN")
        case .tls:
            return permanent(
                "TLS with \(server) failed (\(redacted(error.message))): check notifications.smtp.security and port "
                    + "(tls is implicit TLS, usually port 465; starttls is usually port 587), and ca_file")
        default:
            break
        }

        guard code >= 400 else {
            if error.kind == .transient {
                return transient(
                    "could not reach \(server) (\(redacted(error.message))); will retry. If this persists, check "
                        + "notifications.smtp.host and port")
            }
            return permanent("email via \(server) failed: \(redacted(error.description))")
        }

        switch Stage(curlMessage: error.message) {
        case .greeting:
            if temporary { return transient("\(server) is not accepting mail now (\(answer)); will retry") }
            return permanent("\(server) refused the connection (\(answer))")
        case .sender:
            let sender = configuration.from.address
            if temporary { return transient("\(server) deferred the sender \(sender) (\(answer)); will retry") }
            if code == 530 {
                if reply?.lowercased().contains("starttls") == true {
                    return permanent(
                        "\(server) requires STARTTLS before it takes mail (\(answer)): "
                            + "set notifications.smtp.security: starttls")
                }
                if configuration.username == nil {
                    return permanent(
                        "\(server) requires a login before it takes mail (\(answer)): "
                            + "set notifications.smtp.username and password")
                }
                return permanent(
                    "\(server) requires a login but offered none Lifeboat could use for user \(user) (\(answer)): "
                        + "it needs AUTH PLAIN or LOGIN; check notifications.smtp.port and security")
            }
            return permanent(
                "\(server) refused the sender address \(sender) (\(answer)): check notifications.smtp.from; "
                    + "many servers only take the login's own address")
        case .recipient:
            let who = refusedRecipient(recipients, reply: reply)
            if temporary { return transient("\(server) deferred the recipient \(who) (\(answer)); will retry") }
            return permanent(
                "\(server) refused the recipient \(who) (\(answer)): check the contact's email address")
        case .dataCommand, .message:
            if temporary { return transient("\(server) deferred the message (\(answer)); will retry") }
            return permanent("\(server) refused the message (\(answer))")
        case .unknown:
            if temporary { return transient("\(server) deferred the email (\(answer)); will retry") }
            return permanent("\(server) refused the email (\(answer))")
        }
    }

    /// The recipient a refusal is about: the only one, else the one the server's reply names, else
    /// the whole list.
    private func refusedRecipient(_ recipients: [String], reply: String?) -> String {
        if recipients.count == 1 { return recipients[0] }
        if let reply = reply?.lowercased(), let named = recipients.first(where: { reply.contains($0.lowercased()) }) {
            return named
        }
        return "(one of " + recipients.joined(separator: ", ") + ")"
    }

    /// The server's last reply line, printable and at most ``replyLimit`` characters, or nil.
    private func serverReply(_ error: CurlError) -> String? {
        guard let line = error.serverReply?.trimmingCharacters(in: .whitespaces), !line.isEmpty else { return nil }
        var printable = String(
            String.UnicodeScalarView(line.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }))
        if printable.count > Self.replyLimit { printable = String(printable.prefix(Self.replyLimit)) + "…" }
        return redacted(printable)
    }

    /// `text` with the password, and the base64 forms it takes in AUTH PLAIN and LOGIN, replaced by
    /// `<redacted>`, in case a server or a library echoes them. A password of fewer than 4 characters
    /// is not searched for: it would blank out ordinary words.
    func redacted(_ text: String) -> String {
        guard let password = configuration.password?.reveal(), password.count >= 4 else { return text }
        let user = configuration.username ?? ""
        let forms = [
            password, Data(password.utf8).base64EncodedString(),
            Data(("\0" + user + "\0" + password).utf8).base64EncodedString(),
        ]
        var result = text
        for form in forms { result = result.replacingOccurrences(of: form, with: "<redacted>") }
        return result
    }
}
