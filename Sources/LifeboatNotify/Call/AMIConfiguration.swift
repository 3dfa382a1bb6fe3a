import Foundation
import LifeboatCore

/// How a ``CallNotifier`` reaches the Asterisk Manager Interface and what the called party hears
/// (`notifications.ami`).
///
/// The AMI user needs `write = originate` (to place calls) and `read = call` (to receive the
/// `OriginateResponse` event that says whether the call was answered) in `manager.conf`.
public struct AMIConfiguration: Sendable, CustomStringConvertible {
    /// `host`: the Asterisk server, usually `127.0.0.1`. AMI is plain text (the login secret crosses
    /// the wire as it is), so a host other than loopback needs `allow_insecure: true`.
    public var host: String
    /// `port`: the manager port, 5038 unless `manager.conf` says otherwise.
    public var port: Int
    /// `username`: the `[section]` of `manager.conf`.
    public var username: String
    /// `secret`: its `secret =`.
    public var secret: Secret
    /// `context`: the dialplan context extensions are called through (`Local/1001@from-internal`).
    public var context: String
    /// `outbound_context`: the context mobile numbers are called through (`Local/+49…@from-internal`,
    /// or a dedicated one that picks the trunk); `context` when not set.
    public var outboundContext: String?
    /// `caller_id`: what the called phone shows, `Name <number>`.
    public var callerID: String
    /// `application`: the dialplan application run once the call is answered (`Playback`,
    /// `SayAlpha`, …): letters, digits and underscores.
    public var application: String
    /// `data`: its argument (for `Playback`, a sound file without extension). May hold placeholders
    /// filled from the event: `{{type}}`, `{{level}}`, `{{host}}`, `{{source}}`, `{{id}}`,
    /// `{{message}}`, `{{summary}}` (see ``CallNotifier``).
    public var data: String
    /// `answer_timeout`: seconds the phone rings before the call counts as not answered (the
    /// Originate `Timeout`).
    public var answerTimeout: Double
    /// `connect_timeout`: seconds to connect to the manager port.
    public var connectTimeout: Double
    /// `reply_timeout`: seconds to wait for the banner and each reply; the `OriginateResponse` may
    /// take `answer_timeout` plus this.
    public var replyTimeout: Double
    /// `allow_insecure`: allow a manager host other than loopback, although the login crosses the
    /// network in clear text.
    public var allowInsecure: Bool

    public static let defaultPort = 5038
    /// The placeholders `data` may hold.
    public static let placeholders: Set<String> = ["type", "level", "host", "source", "id", "message", "summary"]

    public init(
        host: String = "127.0.0.1", port: Int = AMIConfiguration.defaultPort, username: String, secret: Secret,
        context: String = "from-internal", outboundContext: String? = nil, callerID: String = "Lifeboat <0>",
        application: String = "Playback", data: String = "lifeboat-alert", answerTimeout: Double = 30,
        connectTimeout: Double = 10, replyTimeout: Double = 10, allowInsecure: Bool = false
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.context = context
        self.outboundContext = outboundContext
        self.callerID = callerID
        self.application = application
        self.data = data
        self.answerTimeout = answerTimeout
        self.connectTimeout = connectTimeout
        self.replyTimeout = replyTimeout
        self.allowInsecure = allowInsecure
    }

    /// `AMI 127.0.0.1:5038 as lifeboat`: never the secret.
    public var description: String { "AMI \(endpointDescription) as \(username)" }

    /// `host:port`, as messages name the server.
    public var endpointDescription: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// What is wrong with the settings, or nil. Every value that goes into an AMI packet is checked
    /// for line breaks, which would let it smuggle extra header lines or actions into the packet.
    public var problem: String? {
        let values: [(String, String)] = [
            ("host", host), ("username", username), ("secret", secret.reveal()), ("context", context),
            ("outbound_context", outboundContext ?? ""), ("caller_id", callerID), ("application", application),
            ("data", data),
        ]
        for (key, value) in values where !AMIPacket.isSafeValue(value) {
            return "\(key) contains a line break or NUL, which would inject lines into AMI packets"
        }
        if host.isEmpty { return "host is empty" }
        if !(1...65535).contains(port) { return "port \(port) is not a TCP port" }
        if !allowInsecure && !Self.isLoopback(host) {
            return "host \(host) is not this machine: AMI sends the login secret in clear text; run Lifeboat on "
                + "the PBX (host: 127.0.0.1), or set allow_insecure: true on a network you trust"
        }
        if username.isEmpty { return "username is empty" }
        if secret.reveal().isEmpty { return "secret is empty" }
        for (key, value) in [("context", context), ("outbound_context", outboundContext ?? context)]
        where !Self.isContextName(value) {
            return "\(key) '\(value)' is not a dialplan context name (letters, digits, - _ .)"
        }
        if application.isEmpty
            || !application.utf8.allSatisfy({ Self.isAlphanumeric($0) || $0 == UInt8(ascii: "_") })
        {
            return "application '\(application)' is not a dialplan application name (e.g. Playback)"
        }
        if let unknown = CallNotifier.placeholderNames(in: data).first(where: { !Self.placeholders.contains($0) }) {
            return "data uses {{\(unknown)}}; the placeholders are "
                + Self.placeholders.sorted().map { "{{\($0)}}" }.joined(separator: ", ")
        }
        if !(answerTimeout >= 1) || answerTimeout > 600 { return "answer_timeout must be 1 to 600 seconds" }
        if !(connectTimeout > 0) || !(replyTimeout > 0) { return "connect_timeout and reply_timeout must be positive" }
        return nil
    }

    static func isContextName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 79
            && text.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
