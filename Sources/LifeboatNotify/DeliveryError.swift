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

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var isRetryable: Bool { kind == .transient }
    public var description: String { message }
}
