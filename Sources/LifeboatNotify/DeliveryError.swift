import Foundation

/// Why a notification could not be delivered, and whether trying again may help.
///
/// Channels (SMTP, webhook, AMI call) throw only this, so that the outbox can decide between
/// retrying later, falling back to the contact's next method, and giving up.
public struct DeliveryError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server was unreachable, busy or answered with a temporary failure: retry with backoff.
        case transient
        /// The server refused for good (bad credentials, refused recipient, 4xx from a webhook, a
        /// rejected call): retrying the same delivery will not help; fall back to the next method.
        case permanent
    }

    public var kind: Kind
    /// What went wrong, for the operator: names the channel, the server's answer, and what to check.
    public var message: String
    /// How long the server asked to wait before the next attempt (an HTTP `Retry-After`), if it said.
    public var retryAfter: TimeInterval?

    public init(_ kind: Kind, _ message: String, retryAfter: TimeInterval? = nil) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
    }

    /// The seconds an HTTP `Retry-After` value asks for: delay-seconds, or an HTTP date (RFC 9110),
    /// counted from `now`; nil when it is neither.
    public static func retryAfterSeconds(_ value: String, now: Date = Date()) -> TimeInterval? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text), seconds >= 0 { return TimeInterval(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    public var isRetryable: Bool { kind == .transient }
    public var description: String { message }
}
