#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatCore

/// How a contact is reached; a contact lists its methods in fallback order.
public enum NotificationMethod: String, Sendable, Hashable, CaseIterable {
    case email
    case webhook
    case callExtension = "call_extension"
    case callMobile = "call_mobile"
}

/// Someone (or some system) that hears about events: which events, and how (`notifications.contacts[]`).
public struct Contact: Sendable {
    /// `name`: unique; the outbox files notifications under it.
    public var name: String
    /// `levels`: the levels this contact receives (default warning and alert).
    public var levels: Set<EventLevel>
    /// `events`: type globs (`*`, `backup.*`, `pbx.web_user_locked_out`); an event must match one.
    public var events: [String]
    /// `methods`: in fallback order; the first is used until it keeps failing.
    public var methods: [NotificationMethod]
    /// `email`: the addresses for `email`.
    public var email: [EmailAddress]
    /// `extension`: for `call_extension`.
    public var `extension`: String?
    /// `mobile`: for `call_mobile`.
    public var mobile: String?
    /// `webhook`: for `webhook`.
    public var webhook: WebhookConfiguration?

    public init(
        name: String, levels: Set<EventLevel> = [.warning, .alert], events: [String] = ["*"],
        methods: [NotificationMethod], email: [EmailAddress] = [], extension: String? = nil, mobile: String? = nil,
        webhook: WebhookConfiguration? = nil
    ) {
        self.name = name
        self.levels = levels
        self.events = events
        self.methods = methods
        self.email = email
        self.extension = `extension`
        self.mobile = mobile
        self.webhook = webhook
    }

    /// Whether this contact wants `event`.
    public func wants(_ event: Event) -> Bool {
        levels.contains(event.level) && events.contains { Self.matches(pattern: $0, type: event.type) }
    }

    /// Shell-style glob matching of an event type (`*`, `?`, `[…]`).
    public static func matches(pattern: String, type: String) -> Bool {
        fnmatch(pattern, type, 0) == 0
    }

    /// What is missing for `method` (e.g. `call_extension needs extension`), or nil.
    public func problem(with method: NotificationMethod) -> String? {
        switch method {
        case .email: email.isEmpty ? "method email needs email (one address or a list)" : nil
        case .webhook: webhook == nil ? "method webhook needs a webhook block (url, secret)" : nil
        case .callExtension: `extension` == nil ? "method call_extension needs extension" : nil
        case .callMobile: mobile == nil ? "method call_mobile needs mobile" : nil
        }
    }

    /// Where `method` reaches this contact, for messages (`email ops@example.com`, `call_extension 1001`).
    public func describe(_ method: NotificationMethod) -> String {
        switch method {
        case .email: "email to " + email.map(\.address).joined(separator: ", ")
        case .webhook: webhook.map { "webhook to \($0.endpointDescription)" } ?? "webhook"
        case .callExtension: "call to extension \(`extension` ?? "?")"
        case .callMobile: "call to mobile \(mobile ?? "?")"
        }
    }
}
