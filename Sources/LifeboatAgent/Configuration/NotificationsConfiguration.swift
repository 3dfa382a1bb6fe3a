import Foundation
import LifeboatCore
import LifeboatNotify

/// `notifications:` — who hears about which events, and how.
public struct NotificationsConfiguration: Sendable {
    /// `smtp`: the mail server for `email` (see `SMTPConfiguration`).
    public var smtp: SMTPConfiguration?
    /// `ami`: the Asterisk Manager Interface for `call_extension` and `call_mobile`.
    public var ami: AMIConfiguration?
    /// `templates`: email templates by event type or family (`pbx.*`), and `default`.
    public var templates: EmailTemplates
    /// `contacts`.
    public var contacts: [Contact]
    /// `group_wait`, `repeat_interval`, `rate_limit`, `max_delivery_age`.
    public var policy: RelayPolicy
}

extension ConfigurationLoader {
    static let notificationKeys = [
        "smtp", "ami", "templates", "contacts", "group_wait", "repeat_interval", "rate_limit", "max_delivery_age",
    ]

    func parseNotifications(_ node: ConfigNode, host: String) throws -> NotificationsConfiguration {
        try refuseControlCharacters(in: node)
        let keys = try node.mapping(allowed: Self.notificationKeys)
        var policy = RelayPolicy()
        if let n = keys["group_wait"] { policy.groupWait = TimeInterval(try duration(n, max: 86_400, allowZero: true)) }
        if let n = keys["repeat_interval"] { policy.repeatInterval = TimeInterval(try duration(n, max: 7 * 86_400, allowZero: true)) }
        if let n = keys["max_delivery_age"] { policy.maxDeliveryAge = TimeInterval(try duration(n, max: 30 * 86_400)) }
        if let n = keys["rate_limit"] {
            let text = try n.string()
            let parts = text.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let period = parts.count == 2 ? DurationText.seconds(parts[1].first?.isNumber == true ? parts[1] : "1" + parts[1]) : nil
            guard parts.count == 2, let count = Int(parts[0]), count >= 1, let period, period > 0 else {
                throw n.error("expected COUNT/PERIOD such as 10/1h or 20/h (notifications per contact), not '\(text)'")
            }
            policy.rateLimit = count
            policy.ratePeriod = TimeInterval(period)
        }
        let smtp = try keys["smtp"].map(parseSMTP)
        let ami = try keys["ami"].map(parseAMI)
        let templates = try keys["templates"].map(parseTemplates) ?? EmailTemplates()
        let channels = NotificationChannels(smtp: smtp, ami: ami, templates: templates, host: host, agentVersion: Agent.version)
        var contacts: [Contact] = []
        for item in try keys["contacts"]?.list() ?? [] {
            let contact = try parseContact(item, channels: channels)
            if contacts.contains(where: { $0.name == contact.name }) {
                throw item.error("a contact named '\(contact.name)' is defined twice")
            }
            contacts.append(contact)
        }
        if contacts.isEmpty {
            throw (keys["contacts"] ?? node).error("no contact is defined: nobody would hear about anything")
        }
        return NotificationsConfiguration(smtp: smtp, ami: ami, templates: templates, contacts: contacts, policy: policy)
    }

    private func parseSMTP(_ node: ConfigNode) throws -> SMTPConfiguration {
        let keys = try node.mapping(allowed: [
            "host", "port", "security", "username", "password", "from", "ca_file", "allow_insecure", "timeout",
        ])
        guard let hostNode = keys["host"] else { throw node.error("missing key 'host'") }
        guard let fromNode = keys["from"] else { throw node.error("missing key 'from' (e.g. \"PBX <pbx@example.com>\")") }
        var security = SMTPConfiguration.Security.starttls
        if let s = keys["security"] {
            let text = try s.string()
            guard let value = SMTPConfiguration.Security(rawValue: text) else {
                throw s.error("expected starttls, tls or none, not '\(text)'")
            }
            security = value
        }
        let from: EmailAddress
        do {
            from = try EmailAddress(parsing: try fromNode.nonEmptyString(), field: "from")
        } catch {
            throw fromNode.error("\(error)")
        }
        let host = try hostNode.nonEmptyString()
        let port = try keys["port"]?.int(min: 1, max: 65535)
        let username = try keys["username"]?.nonEmptyString()
        let password = try keys["password"].map(parseSecret)
        let caFile = try keys["ca_file"].map { try readableFile($0) }
        let allowInsecure = try keys["allow_insecure"]?.bool() ?? false
        let timeout = Double(try keys["timeout"].map { try duration($0, max: 3600) } ?? 30)
        do throws(DeliveryError) {
            return try SMTPConfiguration(
                host: host, port: port, security: security, username: username, password: password, from: from,
                caFile: caFile, allowInsecure: allowInsecure, timeout: timeout)
        } catch {
            throw culprit(error.message, in: keys, prefix: "notifications.smtp: ", fallback: node)
        }
    }

    private func parseAMI(_ node: ConfigNode) throws -> AMIConfiguration {
        let keys = try node.mapping(allowed: [
            "host", "port", "username", "secret", "context", "outbound_context", "caller_id", "application", "data",
            "answer_timeout", "connect_timeout", "reply_timeout", "allow_insecure",
        ])
        guard let user = keys["username"] else { throw node.error("missing key 'username' (a manager.conf section)") }
        guard let secret = keys["secret"] else { throw node.error("missing key 'secret'") }
        let standard = AMIConfiguration(username: "", secret: Secret(""))
        func seconds(_ key: String, _ standard: Double) throws -> Double {
            try keys[key].map { Double(try duration($0, max: 600)) } ?? standard
        }
        let configuration = AMIConfiguration(
            host: try keys["host"]?.nonEmptyString() ?? standard.host,
            port: try keys["port"]?.int(min: 1, max: 65535) ?? standard.port, username: try user.nonEmptyString(),
            secret: try parseSecret(secret), context: try keys["context"]?.nonEmptyString() ?? standard.context,
            outboundContext: try keys["outbound_context"]?.nonEmptyString(),
            callerID: try keys["caller_id"]?.nonEmptyString() ?? standard.callerID,
            application: try keys["application"]?.nonEmptyString() ?? standard.application,
            data: try keys["data"]?.string() ?? standard.data,
            answerTimeout: try seconds("answer_timeout", standard.answerTimeout),
            connectTimeout: try seconds("connect_timeout", standard.connectTimeout),
            replyTimeout: try seconds("reply_timeout", standard.replyTimeout),
            allowInsecure: try keys["allow_insecure"]?.bool() ?? false)
        if let problem = configuration.problem { throw culprit(problem, in: keys, prefix: "", fallback: node) }
        return configuration
    }

    private func parseTemplates(_ node: ConfigNode) throws -> EmailTemplates {
        guard case .mapping = node.node else { throw node.error("expected a mapping of event type → {subject, body}") }
        var templates = EmailTemplates()
        var names: [String] = []
        if case .mapping(let mapping) = node.node {
            for (key, _) in mapping { names.append(key.string ?? "") }
        }
        let keys = try node.mapping(allowed: names)
        for name in names {
            let entry = keys[name]!
            let fields = try entry.mapping(allowed: ["subject", "body"])
            var template = EmailTemplate()
            if let s = fields["subject"] { template.subject = try s.nonEmptyString() }
            if let b = fields["body"] { template.body = try b.nonEmptyString() }
            if name == "default" {
                templates.fallback = template
            } else {
                templates.byType[name] = template
            }
            let single = EmailTemplates(fallback: name == "default" ? template : .standard, byType: name == "default" ? [:] : [name: template])
            if let problem = single.problems.first { throw entry.error(problem) }
        }
        return templates
    }

    private func parseContact(_ node: ConfigNode, channels: NotificationChannels) throws -> Contact {
        let keys = try node.mapping(allowed: [
            "name", "levels", "events", "methods", "email", "extension", "mobile", "webhook",
        ])
        guard let nameNode = keys["name"] else { throw node.error("missing key 'name'") }
        let name = try nameNode.nonEmptyString()
        try checkName(name, nameNode)
        guard let methodsNode = keys["methods"] else {
            throw node.error("missing key 'methods' (in fallback order: email, webhook, call_extension, call_mobile)")
        }
        var methods: [NotificationMethod] = []
        for item in try methodsNode.list() {
            let text = try item.string()
            guard let method = NotificationMethod(rawValue: text) else {
                throw item.error("unknown method '\(text)'; use email, webhook, call_extension or call_mobile")
            }
            guard !methods.contains(method) else { throw item.error("method '\(text)' is listed twice") }
            methods.append(method)
        }
        guard !methods.isEmpty else { throw methodsNode.error("a contact needs at least one method") }
        var levels: Set<EventLevel> = [.warning, .alert]
        if let l = keys["levels"] {
            levels = []
            for item in try l.list() {
                let text = try item.string()
                guard let level = EventLevel(rawValue: text) else {
                    throw item.error("unknown level '\(text)'; use information, warning or alert")
                }
                levels.insert(level)
            }
            if levels.isEmpty { throw l.error("a contact needs at least one level") }
        }
        var events = ["*"]
        if let e = keys["events"] {
            events = try e.stringList()
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_.*?[]!-")
            for (index, pattern) in events.enumerated() where pattern.isEmpty || !pattern.allSatisfy(allowed.contains) {
                throw ((try? e.list())?[index] ?? e).error(
                    "'\(pattern)' is not an event type or glob (backup.failed, pbx.*, *)")
            }
            if events.isEmpty { throw e.error("give at least one event type or glob, e.g. \"*\"") }
        }
        var email: [EmailAddress] = []
        if let e = keys["email"] {
            for (index, text) in try e.stringList().enumerated() {
                do {
                    email.append(try EmailAddress(parsing: text, field: "email"))
                } catch {
                    throw ((try? e.list())?[index] ?? e).error("\(error)")
                }
            }
        }
        let contact = Contact(
            name: name, levels: levels, events: events, methods: methods, email: email,
            extension: try keys["extension"]?.nonEmptyString(), mobile: try keys["mobile"]?.nonEmptyString(),
            webhook: try keys["webhook"].map(parseWebhook))
        if let ext = contact.extension, !CallNotifier.isExtension(ext) {
            throw keys["extension"]!.error("'\(ext)' is not an extension (digits, * and #)")
        }
        if let mobile = contact.mobile, !CallNotifier.isMobileNumber(mobile) {
            throw keys["mobile"]!.error("'\(mobile)' is not a phone number (digits, optionally after a leading +)")
        }
        for (index, method) in methods.enumerated() {
            if let problem = channels.problem(contact: contact, method: method) {
                throw ((try? methodsNode.list())?[index] ?? methodsNode).error(problem)
            }
        }
        return contact
    }

    private func parseWebhook(_ node: ConfigNode) throws -> WebhookConfiguration {
        let keys = try node.mapping(allowed: [
            "url", "secret", "ca_file", "allow_insecure", "timeout", "connect_timeout", "headers",
        ])
        guard let urlNode = keys["url"] else { throw node.error("missing key 'url'") }
        guard let secretNode = keys["secret"] else {
            throw node.error("missing key 'secret' (the key of the X-Lifeboat-Signature HMAC)")
        }
        let text = try urlNode.nonEmptyString()
        guard let url = URL(string: text) else { throw urlNode.error("not a URL: '\(text)'") }
        var headers: [String: String] = [:]
        if let h = keys["headers"] {
            guard case .mapping(let mapping) = h.node else { throw h.error("expected a mapping of header name → value") }
            let names = mapping.map { $0.key.string ?? "" }
            let values = try h.mapping(allowed: names)
            let token = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
            for name in names {
                guard !name.isEmpty, name.allSatisfy(token.contains) else {
                    throw values[name]!.error("'\(name)' is not a header name (letters, digits, '-')")
                }
                guard !WebhookConfiguration.reservedHeaders.contains(name.lowercased()) else {
                    throw values[name]!.error("\(name) is set by Lifeboat itself")
                }
                headers[name] = try parseIdentifier(values[name]!)
            }
        }
        let configuration = WebhookConfiguration(
            url: url, secret: try parseSecret(secretNode), caFile: try keys["ca_file"].map { try readableFile($0) },
            allowInsecure: try keys["allow_insecure"]?.bool() ?? false,
            timeout: Double(try keys["timeout"].map { try duration($0, max: 600) } ?? 30),
            connectTimeout: Double(try keys["connect_timeout"].map { try duration($0, max: 600) } ?? 10),
            headers: headers)
        if let problem = configuration.problem { throw culprit(problem, in: keys, prefix: "", fallback: node) }
        return configuration
    }

    // MARK: Helpers

    /// A duration such as `30s`, `4h`; at most `max` seconds.
    private func duration(_ node: ConfigNode, max: Int64, allowZero: Bool = false) throws -> Int64 {
        let text = try node.string()
        guard let seconds = DurationText.seconds(text), seconds <= max, allowZero || seconds > 0 else {
            throw node.error(
                "expected a duration such as 30s, 10m or 4h (at most \(DurationText.render(max))), not '\(text)'")
        }
        return seconds
    }

    /// The error for a library's `problem` sentence, at the key it starts with when there is one.
    private func culprit(_ message: String, in keys: [String: ConfigNode], prefix: String, fallback: ConfigNode)
        -> ConfigurationError
    {
        let text = message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message
        let key = keys.keys.sorted { $0.count > $1.count }.first { text.hasPrefix($0 + " ") || text.hasPrefix($0 + ":") }
        return (key.flatMap { keys[$0] } ?? fallback).error(text)
    }

    /// Every value under `notifications` except a template's body must be one line: a line break in
    /// a header, an address or an AMI field could inject lines into what is sent.
    private func refuseControlCharacters(in node: ConfigNode) throws {
        switch node.node {
        case .scalar(let scalar):
            if node.path.hasSuffix(".body") && node.path.contains(".templates.") { return }
            if scalar.string.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw node.error("contains a line break or control character, which could inject lines into what is sent")
            }
        case .mapping(let mapping):
            for (key, value) in mapping {
                let name = key.string ?? "?"
                try refuseControlCharacters(
                    in: ConfigNode(
                        node: value, path: node.path.isEmpty ? name : "\(node.path).\(name)", file: node.file,
                        keyLine: key.mark?.line))
            }
        case .sequence:
            for item in try node.list() { try refuseControlCharacters(in: item) }
        default:
            return
        }
    }
}
