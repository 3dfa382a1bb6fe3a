import Foundation
import LifeboatCore
import Logging

/// Calls an extension or a mobile number through the Asterisk Manager Interface and plays the
/// configured application to whoever answers.
///
/// Each call is one AMI session: connect, `Login`, `Originate` (asynchronous) of
/// `Local/<extension>@<context>` or `Local/<number>@<outbound context>` running `application(data)`,
/// wait for the `OriginateResponse`, `Logoff`. Delivered means answered.
///
/// `data` may hold placeholders filled from the event being announced: `{{type}}`, `{{level}}`,
/// `{{host}}`, `{{source}}`, `{{id}}`, `{{message}}`, `{{summary}}` (see ``WebhookPayload/summary(of:host:)``).
/// A filled-in value keeps only letters, digits, spaces and `. - _`; anything else becomes a space,
/// so an event cannot add arguments to the application (`,`) or lines to the packet. Without an
/// event the placeholders are left empty. The call also carries the channel variables
/// `LIFEBOAT_EVENT` (the event id), `LIFEBOAT_TYPE` and `LIFEBOAT_LEVEL`, for dialplans that want them.
///
/// Failures are ``DeliveryError``s (see ``AMIClient`` for which are transient); a destination that is
/// not a valid extension or number is permanent and nothing is sent.
///
/// Calling blocks for up to the answer timeout plus the reply timeouts: run it on a thread of your own.
public struct CallNotifier: Sendable, CustomStringConvertible {
    public let configuration: AMIConfiguration
    /// The agent's host name, for `{{host}}` and `{{summary}}`.
    public let hostName: String
    private let logger: Logger?

    /// Checks `configuration` (``AMIConfiguration/problem``) and throws a permanent error naming what
    /// is wrong; a value with a line break is refused here, before anything is sent.
    public init(configuration: AMIConfiguration, hostName: String, logger: Logger? = nil) throws(DeliveryError) {
        if let problem = configuration.problem {
            throw DeliveryError(.permanent, "notifications.ami: \(problem)")
        }
        self.configuration = configuration
        self.hostName = hostName
        self.logger = logger
    }

    /// `call notifier through AMI 127.0.0.1:5038 as lifeboat`.
    public var description: String { "call notifier through \(configuration)" }

    /// Calls `extension` (digits, `*`, `#`) through `context`; returns once it was answered.
    public func call(extension: String, event: Event? = nil) throws(DeliveryError) {
        guard Self.isExtension(`extension`) else {
            throw DeliveryError(
                .permanent, "call to extension '\(Self.shown(`extension`))': not an extension (digits, * and # only)")
        }
        try place(
            channel: "Local/\(`extension`)@\(configuration.context)", what: "call to extension \(`extension`)",
            event: event)
    }

    /// Calls the mobile number `mobile` (digits, optionally after a leading `+`) through the outbound
    /// context; returns once it was answered.
    public func call(mobile: String, event: Event? = nil) throws(DeliveryError) {
        guard Self.isMobileNumber(mobile) else {
            throw DeliveryError(
                .permanent,
                "call to mobile '\(Self.shown(mobile))': not a phone number (digits, optionally after a leading +, "
                    + "no spaces)")
        }
        let context = configuration.outboundContext ?? configuration.context
        try place(channel: "Local/\(mobile)@\(context)", what: "call to mobile \(mobile)", event: event)
    }

    /// The Originate this notifier sends for `channel` and `event`.
    public func originateRequest(channel: String, event: Event?) -> AMIOriginateRequest {
        var variables: [String: String] = [:]
        if let event {
            variables["LIFEBOAT_EVENT"] = Self.sanitized(event.id)
            variables["LIFEBOAT_TYPE"] = Self.sanitized(event.type)
            variables["LIFEBOAT_LEVEL"] = event.level.rawValue
        }
        return AMIOriginateRequest(
            channel: channel, application: configuration.application, data: filledData(for: event),
            callerID: configuration.callerID, timeoutMilliseconds: Int(configuration.answerTimeout * 1000),
            variables: variables)
    }

    private func place(channel: String, what: String, event: Event?) throws(DeliveryError) {
        let request = originateRequest(channel: channel, event: event)
        let client = AMIClient(
            host: configuration.host, port: configuration.port, connectTimeout: configuration.connectTimeout,
            replyTimeout: configuration.replyTimeout)
        defer { client.logoff() }
        do throws(DeliveryError) {
            try client.connect()
            try client.login(username: configuration.username, secret: configuration.secret)
            try client.originate(request)
        } catch {
            logger?.notice(
                "Call not delivered",
                metadata: [
                    "ami.server": "\(configuration.endpointDescription)", "call.channel": "\(channel)",
                    "error.kind": "\(error.kind)",
                ])
            throw DeliveryError(error.kind, "\(what): \(error.message)")
        }
        logger?.info(
            "Call answered",
            metadata: ["ami.server": "\(configuration.endpointDescription)", "call.channel": "\(channel)"])
    }

    // MARK: Placeholders

    /// `data` with its placeholders filled from `event`.
    func filledData(for event: Event?) -> String {
        var values: [String: String] = [:]
        if let event {
            values = [
                "type": event.type, "level": event.level.rawValue, "host": hostName, "source": event.source,
                "id": event.id, "message": event.message ?? "",
                "summary": WebhookPayload.summary(of: event, host: hostName),
            ]
        } else {
            values = ["host": hostName]
        }
        var out = ""
        var rest = configuration.data[...]
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                rest = rest[open.lowerBound...]
                break
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += Self.sanitized(values[name] ?? "")
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// The placeholder names `{{name}}` in `text`.
    static func placeholderNames(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// Letters, digits, spaces and `. - _` stay; every other character becomes a space; runs of
    /// spaces become one; at most 200 characters.
    static func sanitized(_ value: String) -> String {
        var out = ""
        var lastWasSpace = false
        for scalar in value.unicodeScalars {
            let keep =
                scalar.isASCII
                && (AMIConfiguration.isAlphanumeric(UInt8(scalar.value)) || ".-_".unicodeScalars.contains(scalar))
            if keep {
                out.unicodeScalars.append(scalar)
                lastWasSpace = false
            } else if !lastWasSpace {
                out += " "
                lastWasSpace = true
            }
        }
        return String(out.trimmingCharacters(in: .whitespaces).prefix(200))
    }

    // MARK: Destinations

    /// Digits, `*` and `#`, 1 to 32 of them.
    public static func isExtension(_ text: String) -> Bool {
        (1...32).contains(text.utf8.count)
            && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "#") }
    }

    /// An optional leading `+`, then 3 to 20 digits.
    public static func isMobileNumber(_ text: String) -> Bool {
        let digits = text.hasPrefix("+") ? text.utf8.dropFirst() : text.utf8[...]
        return (3...20).contains(digits.count) && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    private static func shown(_ text: String) -> String {
        String(text.unicodeScalars.prefix(40).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }
}
