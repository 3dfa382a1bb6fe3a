import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@testable import LifeboatNotify

/// The webhook channel against a real HTTPS receiver (`packaging/test-servers/webhook_server.py`),
/// one per test, that checks the HMAC signature with Python's `hmac` on its own.
@Suite struct WebhookNotifierTests {
    static let event = Event(
        id: "evt_01kaf3m2x0p8q9r7s6t5v4w3y2", type: "backup.failed", level: .alert,
        time: Date(timeIntervalSince1970: 1_795_000_000), source: "agent",
        attributes: ["job": "nightly", "store": "s3"], message: "the upload to s3 timed out")

    static func configuration(
        _ server: WebhookTestServer, caFile: String? = nil, secret: String = WebhookTestServer.secret,
        timeout: Double = 10, headers: [String: String] = [:]
    ) -> WebhookConfiguration {
        WebhookConfiguration(
            url: server.url, secret: Secret(secret), caFile: caFile ?? server.caFile, timeout: timeout,
            connectTimeout: 5, headers: headers)
    }

    static func notifier(_ configuration: WebhookConfiguration) throws -> WebhookNotifier {
        try WebhookNotifier(configuration: configuration, agentVersion: "9.8.7")
    }

    @Test func deliversASignedJSONPostThatTheReceiverVerifies() throws {
        let server = try WebhookTestServer()
        let notifier = try Self.notifier(Self.configuration(server, headers: ["X-Team": "ops"]))
        let body = WebhookPayload.body(for: Self.event, host: "pbx1")
        try notifier.send(body: body, idempotencyKey: "ntf_0001")

        let log = try server.log()
        try #require(log.count == 1)
        let request = log[0]
        #expect(request.method == "POST")
        #expect(request.path == "/hooks/pbx?token=t0ken-in-the-query")
        #expect(request.status == 200)
        #expect(request.signatureValid, "the receiver's own HMAC check failed: \(request.signature ?? "no header")")
        #expect(request.bodyBytes == body)
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Content-Length") == String(body.count))
        #expect(request.idempotencyKey == "ntf_0001")
        #expect(request.header("User-Agent") == "lifeboat/9.8.7")
        #expect(request.header("X-Team") == "ops")
        #expect(request.header("Expect") == nil)
        #expect(request.headers("X-Lifeboat-Signature").count == 1)
        // Recomputed here as well, from the bytes the receiver got.
        let mac = HMACSHA256.authenticate(key: Array(WebhookTestServer.secret.utf8), message: request.bodyBytes)
        #expect(request.signature == "sha256=" + Hex.encode(mac))
        #expect(request.signature?.wholeMatch(of: /sha256=[0-9a-f]{64}/) != nil)
    }

    @Test func aRetryOfTheSameNotificationCarriesTheSameIdempotencyKey() throws {
        let server = try WebhookTestServer()
        try server.addFaults([["status": 503, "body": "down for maintenance"]])
        let notifier = try Self.notifier(Self.configuration(server))
        let body = WebhookPayload.body(for: Self.event, host: "pbx1")

        let first = try #require(throws: DeliveryError.self) {
            try notifier.send(body: body, idempotencyKey: "ntf_retry")
        }
        #expect(first.kind == .transient)
        try notifier.send(body: body, idempotencyKey: "ntf_retry")

        let log = try server.log()
        #expect(log.map(\.status) == [503, 200])
        #expect(log.map(\.idempotencyKey) == ["ntf_retry", "ntf_retry"])
        #expect(log.allSatisfy { $0.signatureValid })
        #expect(log[0].signature == log[1].signature)
    }

    @Test(arguments: [408, 425, 429, 500, 502, 503, 504])
    func temporaryStatusesAreTransient(status: Int) throws {
        let server = try WebhookTestServer()
        try server.addFaults([["status": status, "body": "try again later", "retry_after": "7"]])
        let notifier = try Self.notifier(Self.configuration(server))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: WebhookPayload.body(for: Self.event, host: "pbx1"), idempotencyKey: "ntf_t")
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("127.0.0.1:"))
        #expect(error.message.contains("answered \(status)"))
        #expect(error.message.contains("try again later"))
        #expect(error.message.contains("Retry-After: 7"))
        #expect(!error.message.contains("t0ken-in-the-query"), "the URL's path and query stay out of messages")
        #expect(try server.log().count == 1)
    }

    @Test(arguments: [400, 401, 403, 404, 410, 422])
    func otherClientErrorsArePermanent(status: Int) throws {
        let server = try WebhookTestServer()
        try server.addFaults([["status": status, "body": "{\"error\":\"no such hook\"}"]])
        let notifier = try Self.notifier(Self.configuration(server))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: WebhookPayload.body(for: Self.event, host: "pbx1"), idempotencyKey: "ntf_p")
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("answered \(status)"))
        #expect(error.message.contains("no such hook"))
    }

    @Test func aRedirectIsNotFollowed() throws {
        let server = try WebhookTestServer()
        try server.addFaults([["status": 307, "location": server.baseURL + "/elsewhere"]])
        let notifier = try Self.notifier(Self.configuration(server))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: WebhookPayload.body(for: Self.event, host: "pbx1"), idempotencyKey: "ntf_r")
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("307"))
        #expect(error.message.contains("redirects are not followed"))
        #expect(try server.log().map(\.path) == ["/hooks/pbx?token=t0ken-in-the-query"])
    }

    @Test func aReceiverThatRejectsTheSignatureIsAPermanentFailure() throws {
        let server = try WebhookTestServer()
        let notifier = try Self.notifier(Self.configuration(server, secret: "not-the-shared-secret"))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: WebhookPayload.body(for: Self.event, host: "pbx1"), idempotencyKey: "ntf_s")
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("401"))
        #expect(error.message.contains("secret"))
        #expect(!error.message.contains("not-the-shared-secret"))
        let log = try server.log()
        #expect(log.count == 1)
        #expect(log.first?.signatureValid == false)
    }

    @Test func aCertificateFromAnotherCAIsAPermanentFailureNamingCAFile() throws {
        let server = try WebhookTestServer()
        let stranger = try WebhookTestServer.materials.get().strangerCAFile
        let notifier = try Self.notifier(Self.configuration(server, caFile: stranger))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: WebhookPayload.body(for: Self.event, host: "pbx1"), idempotencyKey: "ntf_c")
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("TLS"))
        #expect(error.message.contains("ca_file"))
        #expect(try server.log().isEmpty)
    }

    @Test func withoutCAFileTheTestCAIsNotTrustedAndTheMessageSuggestsCAFile() throws {
        let server = try WebhookTestServer()
        var configuration = Self.configuration(server)
        configuration.caFile = nil
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(configuration).send(body: Array("{}".utf8), idempotencyKey: "ntf_c2")
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("set ca_file"))
        #expect(try server.log().isEmpty)
    }

    @Test func plainHTTPIsRefusedAtInitWithoutAllowInsecure() throws {
        let server = try WebhookTestServer(tls: false)
        var configuration = Self.configuration(server)
        configuration.caFile = nil
        let error = try #require(throws: DeliveryError.self) { try Self.notifier(configuration) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("allow_insecure"))
        #expect(try server.log().isEmpty)

        configuration.allowInsecure = true
        try Self.notifier(configuration).send(body: Array("{\"ok\":1}".utf8), idempotencyKey: "ntf_http")
        #expect(try server.log().map(\.signatureValid) == [true])
    }

    @Test func aClosedPortIsTransient() throws {
        let port = try TestServers.closedPort()
        let configuration = WebhookConfiguration(
            url: URL(string: "https://127.0.0.1:\(port)/hook")!, secret: Secret(WebhookTestServer.secret),
            connectTimeout: 5)
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(configuration).send(body: Array("{}".utf8), idempotencyKey: "ntf_closed")
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("127.0.0.1:\(port)"))
    }

    @Test func aReceiverThatDoesNotAnswerTimesOutAsTransient() throws {
        let server = try WebhookTestServer()
        try server.addFaults([["status": 200, "delay": 6]])
        let notifier = try Self.notifier(Self.configuration(server, timeout: 1))
        let started = Date()
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: Array("{}".utf8), idempotencyKey: "ntf_slow")
        }
        #expect(error.kind == .transient)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func theAnswerQuotedInAMessageIsBoundedAndHoldsNoSecret() throws {
        let server = try WebhookTestServer()
        let echo =
            "rejected: secret was \(WebhookTestServer.secret), auth Bearer abc-123-def "
            + String(repeating: "x", count: 5000)
        try server.addFaults([["status": 400, "body": echo]])
        let notifier = try Self.notifier(Self.configuration(server, headers: ["Authorization": "Bearer abc-123-def"]))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: Array("{}".utf8), idempotencyKey: "ntf_echo")
        }
        #expect(error.message.contains("rejected: secret was <redacted>"))
        #expect(!error.message.contains(WebhookTestServer.secret))
        #expect(!error.message.contains("abc-123-def"))
        #expect(error.message.count < 400)
    }

    @Test(arguments: ["", "two words", "line\r\nbreak", String(repeating: "k", count: 256)])
    func anUnusableIdempotencyKeyIsRefusedBeforeSending(key: String) throws {
        let server = try WebhookTestServer()
        let notifier = try Self.notifier(Self.configuration(server))
        let error = try #require(throws: DeliveryError.self) {
            try notifier.send(body: Array("{}".utf8), idempotencyKey: key)
        }
        #expect(error.kind == .permanent)
        #expect(try server.log().isEmpty)
    }

    @Test func theSignatureIsHMACSHA256InLowerCaseHex() {
        // A published HMAC-SHA256 value (key "key", the quick brown fox).
        let body = Array("The quick brown fox jumps over the lazy dog".utf8)
        #expect(
            WebhookNotifier.signature(of: body, secret: Secret("key"))
                == "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    }

    static let badConfigurations: [(String, WebhookConfiguration)] = {
        let secret = Secret("s3cr3t-value")
        func url(_ text: String) -> URL { URL(string: text)! }
        return [
            ("ftp scheme", WebhookConfiguration(url: url("ftp://hooks.example.com/x"), secret: secret)),
            ("plain http", WebhookConfiguration(url: url("http://hooks.example.com/x"), secret: secret)),
            (
                "credentials in the URL",
                WebhookConfiguration(url: url("https://u:p@hooks.example.com/x"), secret: secret)
            ),
            ("empty secret", WebhookConfiguration(url: url("https://hooks.example.com/x"), secret: Secret(""))),
            ("zero timeout", WebhookConfiguration(url: url("https://hooks.example.com/x"), secret: secret, timeout: 0)),
            (
                "missing ca_file",
                WebhookConfiguration(
                    url: url("https://hooks.example.com/x"), secret: secret, caFile: "/nonexistent/ca.pem")
            ),
            (
                "reserved header",
                WebhookConfiguration(
                    url: url("https://hooks.example.com/x"), secret: secret, headers: ["X-Lifeboat-Signature": "x"])
            ),
            (
                "bad header name",
                WebhookConfiguration(
                    url: url("https://hooks.example.com/x"), secret: secret, headers: ["X Team": "ops"])
            ),
            (
                "line break in a header value",
                WebhookConfiguration(
                    url: url("https://hooks.example.com/x"), secret: secret, headers: ["X-Team": "ops\r\nX-Evil: 1"])
            ),
        ]
    }()

    @Test(arguments: badConfigurations.indices)
    func badConfigurationsAreRefusedWithAReason(index: Int) {
        let (what, configuration) = Self.badConfigurations[index]
        #expect(configuration.problem != nil, "\(what) was accepted")
        #expect(throws: DeliveryError.self, "\(what) was accepted") {
            try Self.notifier(configuration)
        }
        #expect(configuration.problem?.contains("s3cr3t-value") != true)
        #expect(configuration.problem?.contains("X-Evil") != true)
    }

    @Test func aGoodConfigurationHasNoProblem() {
        let configuration = WebhookConfiguration(
            url: URL(string: "https://hooks.example.com:8443/pbx")!, secret: Secret("s"),
            headers: ["Authorization": "Bearer x"])
        #expect(configuration.problem == nil)
        #expect(configuration.endpointDescription == "hooks.example.com:8443")
    }
}
