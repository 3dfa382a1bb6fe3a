import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// Calls through the Asterisk Manager Interface against an AMI test server
/// (`packaging/test-servers/ami_server.py`), one per test, that speaks the wire protocol, checks the
/// login, records each Originate and answers it as the test chose.
@Suite struct CallNotifierTests {
    static let event = Event(
        id: "evt_01kaf3m2x0p8q9r7s6t5v4w3y2", type: "backup.failed", level: .alert,
        time: Date(timeIntervalSince1970: 1_795_000_000), source: "agent", attributes: ["job": "nightly"],
        message: "the upload to s3, then sftp, failed\r\nAction: Hangup")

    static func configuration(
        port: Int, secret: String = AMITestServer.secret, outboundContext: String? = nil,
        application: String = "Playback", data: String = "lifeboat-alert", answerTimeout: Double = 5,
        replyTimeout: Double = 5
    ) -> AMIConfiguration {
        AMIConfiguration(
            host: "127.0.0.1", port: port, username: AMITestServer.username, secret: Secret(secret),
            context: "from-internal", outboundContext: outboundContext, callerID: "Lifeboat <0>",
            application: application, data: data, answerTimeout: answerTimeout, connectTimeout: 5,
            replyTimeout: replyTimeout)
    }

    static func notifier(_ configuration: AMIConfiguration) throws -> CallNotifier {
        try CallNotifier(configuration: configuration, hostName: "pbx1")
    }

    @Test func aCallToAnExtensionIsDeliveredAsConfigured() throws {
        let server = try AMITestServer()
        try Self.notifier(Self.configuration(port: server.port)).call(extension: "1001", event: Self.event)

        let log = try server.log { $0.logoffs == 1 }
        #expect(log.violations.isEmpty, "\(log.violations)")
        #expect(log.connections == 1)
        #expect(log.actions == ["Login", "Originate", "Logoff"])
        #expect(log.logins.map(\.accepted) == [true])
        let call = try #require(log.calls.first)
        #expect(log.calls.count == 1)
        #expect(call.channel == "Local/1001@from-internal")
        #expect(call.application == "Playback")
        #expect(call.data == "lifeboat-alert")
        #expect(call.callerID == "Lifeboat <0>")
        #expect(call.timeout == "5000")
        #expect(call.async == "true")
        #expect(
            call.variables == [
                "LIFEBOAT_EVENT": Self.event.id, "LIFEBOAT_TYPE": "backup.failed", "LIFEBOAT_LEVEL": "alert",
            ])
        #expect(call.response == "Success")
        // Every action carried its own ActionID, and the Originate's is the one the outcome answered.
        let ids = log.packets.compactMap { $0.value("ActionID") }
        #expect(ids.count == 3 && Set(ids).count == 3)
        #expect(call.actionID == ids[1])
    }

    @Test func aMobileNumberIsCalledThroughTheOutboundContext() throws {
        let server = try AMITestServer()
        let notifier = try Self.notifier(Self.configuration(port: server.port, outboundContext: "lifeboat-mobile"))
        try notifier.call(mobile: "+4915100000000", event: Self.event)
        try notifier.call(extension: "1001")
        let calls = try server.log().calls
        #expect(calls.map(\.channel) == ["Local/+4915100000000@lifeboat-mobile", "Local/1001@from-internal"])
        #expect(calls.map(\.response) == ["Success", "Success"])
        #expect(calls[1].variables.isEmpty, "without an event there are no event variables")
    }

    @Test func withoutAnOutboundContextAMobileIsCalledThroughTheContext() throws {
        let server = try AMITestServer()
        try Self.notifier(Self.configuration(port: server.port)).call(mobile: "004915100000000")
        #expect(try server.log().calls.map(\.channel) == ["Local/004915100000000@from-internal"])
    }

    @Test func aWrongSecretIsAPermanentAuthenticationFailureThatDoesNotShowTheSecret() throws {
        let server = try AMITestServer()
        let notifier = try Self.notifier(Self.configuration(port: server.port, secret: "wrong-secret-9f8e"))
        let error = try #require(throws: DeliveryError.self) { try notifier.call(extension: "1001") }
        #expect(error.kind == .permanent)
        #expect(error.message.lowercased().contains("authentication failed"))
        #expect(error.message.contains("'lifeboat'"))
        #expect(!error.message.contains("wrong-secret-9f8e"))
        #expect(!error.message.contains(AMITestServer.secret))
        let log = try server.log()
        #expect(log.logins.map(\.accepted) == [false])
        #expect(!log.actions.contains("Originate"))
    }

    /// (destination, outcome, kind, words in the message)
    static let failures: [(String, AMITestServer.Outcome, DeliveryError.Kind, String)] = [
        ("1002", .busy, .transient, "busy"),
        ("1003", .noAnswer, .transient, "no answer"),
        ("1005", .congestion, .transient, "congested"),
        ("1006", .hungUp, .permanent, "hung up"),
        ("1007", .notPlaced, .permanent, "could not be placed"),
    ]

    @Test(arguments: failures.indices)
    func aFailedOriginateResponseIsAFailedDeliveryWithItsReason(index: Int) throws {
        let (destination, outcome, kind, words) = Self.failures[index]
        let server = try AMITestServer(outcomes: [destination: outcome])
        let notifier = try Self.notifier(Self.configuration(port: server.port))
        let error = try #require(throws: DeliveryError.self) { try notifier.call(extension: destination) }
        #expect(error.kind == kind)
        #expect(error.message.contains("call to extension \(destination)"))
        #expect(error.message.contains(words))
        #expect(error.message.contains("Reason \(outcome.reason)"))
        let log = try server.log { $0.logoffs == 1 }
        #expect(log.calls.map(\.reason) == [outcome.reason])
        #expect(log.actions == ["Login", "Originate", "Logoff"])
    }

    @Test func aRefusedOriginateIsPermanent() throws {
        let server = try AMITestServer(denyOriginate: true)
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(Self.configuration(port: server.port)).call(extension: "1001")
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("Permission denied"))
        #expect(error.message.contains("write = originate"))
    }

    @Test func aClosedPortIsTransient() throws {
        let port = try TestServers.closedPort()
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(Self.configuration(port: port)).call(extension: "1001")
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.contains("could not be reached"))
    }

    @Test func anOriginateResponseThatNeverComesTimesOut() throws {
        let server = try AMITestServer(silent: ["1004"])
        let notifier = try Self.notifier(Self.configuration(port: server.port, answerTimeout: 1, replyTimeout: 1))
        let started = Date()
        let error = try #require(throws: DeliveryError.self) { try notifier.call(extension: "1004") }
        let elapsed = Date().timeIntervalSince(started)
        #expect(error.kind == .transient)
        #expect(error.message.contains("no OriginateResponse"))
        #expect(error.message.contains("within 2 s"))
        #expect(elapsed >= 1.9 && elapsed < 6, "waited \(elapsed) s")
        let log = try server.log { $0.logoffs == 1 }
        #expect(log.calls.map(\.channel) == ["Local/1004@from-internal"])
        #expect(log.actions == ["Login", "Originate", "Logoff"])
    }

    @Test func aMissingGreetingIsTransient() throws {
        let server = try AMITestServer(banner: .none)
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(Self.configuration(port: server.port, replyTimeout: 1)).call(extension: "1001")
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("no greeting"))
        #expect(try server.log().packets.isEmpty)
    }

    @Test func aServerThatIsNotAsteriskIsRecognisedByItsGreeting() throws {
        let server = try AMITestServer(banner: .line("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"))
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(Self.configuration(port: server.port)).call(extension: "1001")
        }
        #expect(error.kind == .transient)
        #expect(error.message.contains("did not greet as the Asterisk Manager Interface"))
        #expect(error.message.contains("SSH-2.0-OpenSSH_9.2p1"))
        #expect(try server.log().packets.isEmpty, "nothing, least of all the login, is sent to a stranger")
    }

    /// (setting, configuration with a line break in it)
    static let injections: [(String, @Sendable (Int) -> AMIConfiguration)] = [
        ("data", { configuration(port: $0, data: "lifeboat-alert\r\nAction: Hangup") }),
        ("application", { configuration(port: $0, application: "Playback\nAction: Hangup") }),
        ("outbound_context", { configuration(port: $0, outboundContext: "from-internal\r\n") }),
        (
            "caller_id",
            {
                var configuration = configuration(port: $0)
                configuration.callerID = "Lifeboat <0>\r\nAction: Originate"
                return configuration
            }
        ),
        (
            "username",
            {
                var configuration = configuration(port: $0)
                configuration.username = "lifeboat\r\nSecret: x"
                return configuration
            }
        ),
        ("secret", { configuration(port: $0, secret: "pa\nss") }),
    ]

    @Test(arguments: injections.indices)
    func aValueWithALineBreakIsRefusedBeforeAnythingIsSent(index: Int) throws {
        let (setting, make) = Self.injections[index]
        let server = try AMITestServer()
        let error = try #require(throws: DeliveryError.self) { try Self.notifier(make(server.port)) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains(setting))
        #expect(error.message.contains("line break"))
        #expect(try server.log().connections == 0)
    }

    @Test func theClientRefusesToSendAPacketWithALineBreakInAValue() throws {
        let server = try AMITestServer()
        let client = AMIClient(host: "127.0.0.1", port: server.port, connectTimeout: 5, replyTimeout: 5)
        try client.connect()
        #expect(client.banner == "Asterisk Call Manager/7.0.3")
        try client.login(username: AMITestServer.username, secret: Secret(AMITestServer.secret))
        let request = AMIOriginateRequest(
            channel: "Local/1001@from-internal", application: "Playback", data: "x\r\nAction: Logoff\r\n",
            callerID: "Lifeboat <0>", timeoutMilliseconds: 5000)
        let error = try #require(throws: DeliveryError.self) { try client.originate(request) }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("Data"))
        // The session is still usable: the refused packet never reached the wire.
        var good = request
        good.data = "lifeboat-alert"
        try client.originate(good)
        client.logoff()
        let log = try server.log { $0.logoffs == 1 }
        #expect(log.actions == ["Login", "Originate", "Logoff"])
        #expect(log.calls.map(\.data) == ["lifeboat-alert"])
        #expect(log.violations.isEmpty, "\(log.violations)")
    }

    @Test(arguments: ["10a1", "1001@other", "", "1001,1002", "1 001"])
    func anInvalidExtensionIsRefusedBeforeConnecting(destination: String) throws {
        let server = try AMITestServer()
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(Self.configuration(port: server.port)).call(extension: destination)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("not an extension"))
        #expect(try server.log().connections == 0)
    }

    @Test(arguments: ["0151 000000", "+49-151-000000", "++4915100000000", "+49", "4915100000000\r\n", "tel:+4915"])
    func anInvalidMobileNumberIsRefusedBeforeConnecting(number: String) throws {
        let server = try AMITestServer()
        let error = try #require(throws: DeliveryError.self) {
            try Self.notifier(Self.configuration(port: server.port)).call(mobile: number)
        }
        #expect(error.kind == .permanent)
        #expect(error.message.contains("not a phone number"))
        #expect(!error.message.contains("\r"))
        #expect(try server.log().connections == 0)
    }

    @Test func extensionsMayHoldStarAndHash() throws {
        let server = try AMITestServer()
        try Self.notifier(Self.configuration(port: server.port)).call(extension: "*97#")
        #expect(try server.log().calls.map(\.channel) == ["Local/*97#@from-internal"])
    }

    @Test func placeholdersInDataAreFilledFromTheEventAndCannotAddArguments() throws {
        let server = try AMITestServer()
        let sounds = try Self.notifier(
            Self.configuration(port: server.port, data: "custom/lifeboat-{{level}}-{{ type }}"))
        try sounds.call(extension: "1001", event: Self.event)
        let spoken = try Self.notifier(
            Self.configuration(port: server.port, application: "SayAlpha", data: "{{host}} {{message}}"))
        try spoken.call(extension: "1001", event: Self.event)
        try spoken.call(extension: "1001")
        let log = try server.log()
        #expect(
            log.calls.map(\.data) == [
                "custom/lifeboat-alert-backup.failed",
                "pbx1 the upload to s3 then sftp failed Action Hangup",
                "pbx1 ",
            ])
        #expect(log.calls.map(\.application) == ["Playback", "SayAlpha", "SayAlpha"])
        #expect(log.violations.isEmpty, "\(log.violations)")
    }

    @Test func anUnknownPlaceholderIsRefused() {
        let configuration = Self.configuration(port: 5038, data: "lifeboat-{{severity}}")
        #expect(configuration.problem?.contains("{{severity}}") == true)
        #expect(throws: DeliveryError.self) { try Self.notifier(configuration) }
    }

    @Test func aManagerOnAnotherHostNeedsAllowInsecure() {
        var configuration = Self.configuration(port: 5038)
        configuration.host = "192.0.2.10"
        #expect(configuration.problem?.contains("allow_insecure") == true)
        configuration.allowInsecure = true
        #expect(configuration.problem == nil)
        configuration.host = "localhost"
        configuration.allowInsecure = false
        #expect(configuration.problem == nil)
    }
}
