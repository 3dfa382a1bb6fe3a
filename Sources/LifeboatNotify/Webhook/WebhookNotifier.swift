import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl

/// Posts notifications to a webhook: one JSON body per request, signed with HMAC-SHA256.
///
/// Each request carries `Content-Type: application/json`, `X-Lifeboat-Signature: sha256=<hex>`
/// (the lower-case hex HMAC-SHA256 of the exact body bytes under the shared secret),
/// `Idempotency-Key` (the same on every attempt of one notification, so that the receiver can drop
/// repeats of an at-least-once delivery) and `User-Agent: lifeboat/<version>`. TLS is verified;
/// redirects are never followed.
///
/// How answers are classified:
/// - 2xx: delivered.
/// - 408, 425, 429, 5xx, and failures to connect or to get an answer (refused, reset, timeout):
///   ``DeliveryError/Kind/transient``. A `Retry-After` the server sent is named in the message.
/// - Any other status (3xx, other 4xx) and a failed TLS handshake or certificate check:
///   ``DeliveryError/Kind/permanent``.
///
/// Sending blocks until the receiver answers: call it from a thread of your own, never from Swift's
/// cooperative pool. Requests through one notifier are sent one at a time on one connection.
public final class WebhookNotifier: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: the curl handle is only used under `lock`; everything else is immutable.
    public let configuration: WebhookConfiguration
    /// `User-Agent: lifeboat/<version>`.
    public let userAgent: String
    private let lock = NSLock()
    private var handle: CurlHandle?

    /// The largest part of a receiver's answer quoted in an error message, in bytes.
    static let excerptLimit = 200

    /// Checks `configuration` (``WebhookConfiguration/problem``) and throws a permanent error naming
    /// what is wrong: a plain `http://` URL without `allowInsecure` is refused here.
    public init(configuration: WebhookConfiguration, agentVersion: String) throws(DeliveryError) {
        if let problem = configuration.problem {
            throw DeliveryError(.permanent, "webhook: \(problem)")
        }
        self.configuration = configuration
        userAgent = "lifeboat/\(agentVersion)"
    }

    /// `webhook notifier for hooks.example.com:8443`.
    public var description: String { "webhook notifier for \(configuration.endpointDescription)" }

    /// `sha256=` and the lower-case hex HMAC-SHA256 of `body` under `secret`: the value of
    /// `X-Lifeboat-Signature`.
    public static func signature(of body: [UInt8], secret: Secret) -> String {
        let mac = HMACSHA256.authenticate(key: Array(secret.reveal().utf8), message: body)
        return "sha256=" + Hex.encode(mac)
    }

    /// Posts `body` (JSON, e.g. from ``WebhookPayload``) with `idempotencyKey`; returns when the
    /// receiver answered 2xx. Send the same key again when retrying the same notification.
    public func send(body: [UInt8], idempotencyKey: String) throws(DeliveryError) {
        let endpoint = "webhook \(configuration.endpointDescription)"
        guard !idempotencyKey.isEmpty, idempotencyKey.utf8.count <= 255,
            idempotencyKey.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw DeliveryError(
                .permanent, "\(endpoint): the idempotency key must be 1 to 255 visible ASCII characters")
        }
        var transfer = CurlTransfer(url: configuration.url.absoluteString)
        transfer.method = "POST"
        transfer.body = .bytes(body)
        // `Expect:` (empty) keeps libcurl from waiting for a 100-continue before the body.
        transfer.headers =
            [
                "Content-Type: application/json",
                "X-Lifeboat-Signature: \(Self.signature(of: body, secret: configuration.secret))",
                "Idempotency-Key: \(idempotencyKey)",
                "User-Agent: \(userAgent)",
                "Expect:",
            ] + configuration.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        transfer.caFile = configuration.caFile
        transfer.connectTimeout = configuration.connectTimeout
        transfer.lowSpeedLimit = 1
        transfer.lowSpeedTime = configuration.timeout
        transfer.responseLimit = 1 << 20

        let response: CurlResponse
        do {
            response = try lock.withLock { () throws -> CurlResponse in
                let current = try handle ?? CurlHandle()
                handle = nil  // a handle whose transfer broke is not reused
                let response = try current.perform(transfer)
                handle = current
                return response
            }
        } catch let error as CurlError {
            throw transferError(error, endpoint: endpoint)
        } catch {
            throw DeliveryError(.transient, "\(endpoint): the request failed: \(redacted(String(describing: error)))")
        }
        try check(response, endpoint: endpoint)
    }

    // MARK: Classification

    private func transferError(_ error: CurlError, endpoint: String) -> DeliveryError {
        let cause = redacted(error.description)
        switch error.kind {
        case .transient:
            return DeliveryError(.transient, "\(endpoint) could not be reached: \(cause)")
        case .tls:
            let hint =
                configuration.caFile == nil
                ? "if the receiver's certificate comes from a private CA, set ca_file"
                : "check that ca_file \(configuration.caFile!) holds the CA that signed the receiver's certificate"
            return DeliveryError(.permanent, "\(endpoint): TLS failed: \(cause); \(hint)")
        default:
            return DeliveryError(.permanent, "\(endpoint): the request failed: \(cause)")
        }
    }

    private func check(_ response: CurlResponse, endpoint: String) throws(DeliveryError) {
        let status = response.status
        if (200..<300).contains(status) { return }
        var message = "\(endpoint) answered \(statusText(response))"
        let excerpt = self.excerpt(response.body)
        if !excerpt.isEmpty { message += ": \(excerpt)" }
        switch Self.kind(ofStatus: status) {
        case .transient:
            var retryAfter: TimeInterval?
            if let wait = response.header("Retry-After"), !wait.isEmpty {
                message += " (Retry-After: \(redacted(String(wait.prefix(40)))))"
                retryAfter = DeliveryError.retryAfterSeconds(wait)
            }
            throw DeliveryError(.transient, message, retryAfter: retryAfter)
        case .permanent:
            if (300..<400).contains(status) {
                let target = response.header("Location").flatMap { URL(string: $0)?.host } ?? "another address"
                message += "; redirects are not followed: set url to the final address (it points to \(target))"
            } else if status == 401 || status == 403 {
                message += "; check that the receiver and Lifeboat share the same secret and headers"
            }
            throw DeliveryError(.permanent, message)
        }
    }

    /// Whether a non-2xx status is worth another try.
    static func kind(ofStatus status: Int) -> DeliveryError.Kind {
        switch status {
        case 408, 425, 429, 500..<600: .transient
        default: .permanent
        }
    }

    /// `503 Service Unavailable`, or just `503` when the status line has no reason phrase (HTTP/2).
    private func statusText(_ response: CurlResponse) -> String {
        guard let line = response.headerLines.last(where: { $0.hasPrefix("HTTP/") }) else {
            return "\(response.status)"
        }
        let fields = line.split(separator: " ", maxSplits: 2)
        guard fields.count == 3, Int(fields[1]) == response.status else { return "\(response.status)" }
        return "\(response.status) \(excerptText(Array(fields[2].utf8), limit: 60))"
    }

    /// The start of the receiver's answer as one printable line, without the secret or header values.
    private func excerpt(_ body: [UInt8]) -> String {
        excerptText(body, limit: Self.excerptLimit)
    }

    private func excerptText(_ bytes: [UInt8], limit: Int) -> String {
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
        let printable = String(
            text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        let trimmed = redacted(printable.trimmingCharacters(in: .whitespaces))
        return trimmed + (bytes.count > limit && !trimmed.isEmpty ? "…" : "")
    }

    /// `text` with the secret and the configured header values replaced by `<redacted>`, in case a
    /// receiver echoes the request.
    private func redacted(_ text: String) -> String {
        var result = text
        let hidden = [configuration.secret.reveal()] + Array(configuration.headers.values)
        for value in hidden where value.count >= 4 {
            result = result.replacingOccurrences(of: value, with: "<redacted>")
        }
        return result
    }
}
