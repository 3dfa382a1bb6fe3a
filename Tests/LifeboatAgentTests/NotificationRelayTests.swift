import Foundation
import LifeboatCore
import LifeboatNotify
import Logging
import Testing

@testable import LifeboatAgent

/// The relay's rules over the real state database, on a simulated clock: grouping, repeat interval,
/// rate limit, backoff, fallback, giving up, summaries after an outage, and resending after a crash.
/// The channels themselves are tested against real servers in LifeboatNotifyTests and end to end.
@Suite struct NotificationRelayTests {
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    /// What the stand-in channel was asked to send, and how it answers.
    final class Channel: @unchecked Sendable {
        struct Sent {
            var id: String
            var events: [Event]
            var contact: String
            var method: NotificationMethod
        }
        private let lock = NSLock()
        private var _sent: [Sent] = []
        /// Answers per method; nil delivers.
        private var failures: [NotificationMethod: DeliveryError] = [:]

        var sent: [Sent] { lock.withLock { _sent } }
        func fail(_ method: NotificationMethod, _ error: DeliveryError?) { lock.withLock { failures[method] = error } }

        func deliver(_ id: String, _ events: [Event], _ contact: Contact, _ method: NotificationMethod) throws(DeliveryError) {
            let failure = lock.withLock { () -> DeliveryError? in
                _sent.append(Sent(id: id, events: events, contact: contact.name, method: method))
                return failures[method]
            }
            if let failure { throw failure }
        }
    }

    final class Fixture {
        let folder = NSTemporaryDirectory() + "lifeboat-relay-test-" + UUID().uuidString.prefix(8)
        let state: StateDatabase
        let channel = Channel()
        let relay: NotificationRelay

        init(contacts: [Contact], policy: RelayPolicy = RelayPolicy()) throws {
            state = try StateDatabase(stateDirectory: folder)
            let channel = channel
            relay = NotificationRelay(
                state: state,
                setup: .init(
                    contacts: contacts,
                    channels: NotificationChannels(smtp: nil, ami: nil, host: "pbx1", agentVersion: "test"),
                    policy: policy),
                logger: Logger(label: "test"), deliver: { id, events, contact, method throws(DeliveryError) in
                    try channel.deliver(id, events, contact, method)
                })
        }

        deinit { try? FileManager.default.removeItem(atPath: folder) }

        func record(_ type: String, _ level: EventLevel = .alert, at time: Date, _ attributes: [String: String] = [:]) throws {
            try state.recordEvent(Event(type: type, level: level, time: time, source: "test", attributes: attributes))
        }
    }

    static let ops = Contact(name: "ops", methods: [.email, .callExtension], extension: "1001")

    @Test func aStormOfOneTypeBecomesOneDigestAfterGroupWait() throws {
        let f = try Fixture(contacts: [Self.ops])
        for i in 0..<1000 {
            try f.record(
                "pbx.extension_registration_blocked_out", at: t0.addingTimeInterval(Double(i) / 100),
                ["extension": "\(1000 + i)"])
            if i % 100 == 0 { f.relay.pass(now: t0.addingTimeInterval(Double(i) / 100)) }
        }
        // Nothing before group_wait (30 s) has passed since the first event.
        f.relay.pass(now: t0.addingTimeInterval(29))
        #expect(f.channel.sent.isEmpty)
        let next = f.relay.pass(now: t0.addingTimeInterval(30))
        #expect(f.channel.sent.count == 1)
        #expect(f.channel.sent.first?.events.count == 1000)
        #expect(Set(f.channel.sent.first?.events.compactMap { $0.attributes["extension"] } ?? []).count == 1000)
        #expect(next == nil)
        #expect(try f.state.outboxCounts().byState["delivered"] == 1)

        // The same group within repeat_interval (4 h) waits and goes out together at +4 h.
        try f.record("pbx.extension_registration_blocked_out", at: t0.addingTimeInterval(60))
        try f.record("pbx.extension_registration_blocked_out", at: t0.addingTimeInterval(3600))
        f.relay.pass(now: t0.addingTimeInterval(3600))
        #expect(f.channel.sent.count == 1)
        f.relay.pass(now: t0.addingTimeInterval(4 * 3600 + 30))
        #expect(f.channel.sent.count == 2)
        #expect(f.channel.sent.last?.events.count == 2)
    }

    @Test func levelsAndTypesChooseContacts() throws {
        let pbxOnly = Contact(name: "sec", levels: [.alert], events: ["pbx.*"], methods: [.email])
        let f = try Fixture(contacts: [Self.ops, pbxOnly])
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        try f.record("pbx.web_user_locked_out", at: t0)
        try f.record("pbx.cpu_overload", .warning, at: t0)
        try f.record("backup.succeeded", .information, at: t0, ["job": "nightly"])
        f.relay.pass(now: t0.addingTimeInterval(31))
        let byContact = Dictionary(grouping: f.channel.sent, by: \.contact)
        // ops: three groups due at once → one summary; sec: the alert-level pbx event only.
        #expect(byContact["ops"]?.count == 1)
        #expect(Set(byContact["ops"]?.first?.events.map(\.type) ?? []) == ["backup.failed", "pbx.web_user_locked_out", "pbx.cpu_overload"])
        #expect(byContact["sec"]?.map { $0.events.map(\.type) } == [["pbx.web_user_locked_out"]])
    }

    @Test func transientFailuresBackOffThenFallBackWithAnEvent() throws {
        let f = try Fixture(contacts: [Self.ops])
        f.channel.fail(.email, DeliveryError(.transient, "SMTP server down"))
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        f.relay.pass(now: t0.addingTimeInterval(30))
        #expect(f.channel.sent.map(\.method) == [.email])
        let first = try #require(f.state.notifications().first)
        #expect(first.attempts == 1 && first.dueAt == t0.addingTimeInterval(60))
        f.relay.pass(now: t0.addingTimeInterval(59))
        #expect(f.channel.sent.count == 1)
        f.relay.pass(now: t0.addingTimeInterval(60))  // second attempt; next after 60 s more
        f.relay.pass(now: t0.addingTimeInterval(120))  // third attempt fails: fall back to the call
        #expect(f.channel.sent.map(\.method) == [.email, .email, .email])
        let failed = try f.state.events(type: "notifier.failed")
        #expect(failed.count == 1)
        #expect(failed.first?.level == .warning)
        #expect(failed.first?.attributes["next_method"] == "call_extension")
        f.relay.pass(now: t0.addingTimeInterval(120))
        #expect(f.channel.sent.map(\.method) == [.email, .email, .email, .callExtension])
        #expect(Set(f.channel.sent.map(\.id)).count == 1, "every attempt carries the notification's id")
        #expect(try f.state.notification(first.id)?.state == .delivered)
    }

    @Test func aPermanentFailureOfTheLastMethodGivesUpWithAnAlert() throws {
        let f = try Fixture(contacts: [Self.ops])
        f.channel.fail(.email, DeliveryError(.permanent, "535 authentication failed"))
        f.channel.fail(.callExtension, DeliveryError(.permanent, "extension 1001 does not exist"))
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        f.relay.pass(now: t0.addingTimeInterval(30))
        f.relay.pass(now: t0.addingTimeInterval(30))
        #expect(f.channel.sent.map(\.method) == [.email, .callExtension])
        let failed = try f.state.events(type: "notifier.failed")
        #expect(failed.map(\.level) == [.warning, .alert])
        #expect(try f.state.notifications().first { $0.groupKey == "backup.failed|nightly" }?.state == .failed)
        // The notifier.failed events go to the contact too, and fail; they raise nothing more.
        f.relay.pass(now: t0.addingTimeInterval(61))
        f.relay.pass(now: t0.addingTimeInterval(61))
        #expect(try f.state.events(type: "notifier.failed").count == 2)
    }

    @Test func aNotificationOlderThanMaxDeliveryAgeIsGivenUp() throws {
        let f = try Fixture(
            contacts: [Contact(name: "ops", methods: [.email])], policy: RelayPolicy(maxDeliveryAge: 3600))
        f.channel.fail(.email, DeliveryError(.transient, "connection refused"))
        try f.record("pbx.storage_device_failure", at: t0)
        for minute in stride(from: 1, through: 61, by: 1) { f.relay.pass(now: t0.addingTimeInterval(Double(minute) * 60)) }
        let notification = try #require(f.state.notifications().first { $0.groupKey == "pbx.storage_device_failure" })
        #expect(notification.state == .failed)
        #expect(notification.lastError?.contains("max_delivery_age (1h)") == true)
        #expect(try f.state.events(type: "notifier.failed").last?.level == .alert)
        // Backoff 30, 60, 120, 240, 480, 960, 1920 s (cut at the give-up time): 7 attempts in 61 passes.
        let attempts = f.channel.sent.filter { $0.events.contains { $0.type == "pbx.storage_device_failure" } }
        #expect(attempts.count == 7)
    }

    @Test func theRateLimitHoldsBackNewNotificationsWhichKeepCollecting() throws {
        let f = try Fixture(
            contacts: [Contact(name: "ops", methods: [.email])], policy: RelayPolicy(rateLimit: 2, ratePeriod: 3600))
        for (i, type) in ["pbx.cpu_overload", "pbx.memory_overload", "pbx.insufficient_storage"].enumerated() {
            try f.record(type, .warning, at: t0.addingTimeInterval(Double(i) * 100))
            f.relay.pass(now: t0.addingTimeInterval(Double(i) * 100 + 30))
        }
        #expect(f.channel.sent.count == 2)
        let held = try #require(f.state.notifications().first { $0.state == .pending })
        #expect(held.dueAt == t0.addingTimeInterval(30 + 3600))
        try f.record("pbx.insufficient_storage", .warning, at: t0.addingTimeInterval(1000))
        f.relay.pass(now: t0.addingTimeInterval(3630))
        #expect(f.channel.sent.count == 3)
        #expect(f.channel.sent.last?.events.count == 2)
    }

    @Test func afterAnOutageEverythingPendingGoesAsOneSummary() throws {
        let f = try Fixture(contacts: [Contact(name: "ops", methods: [.email])])
        f.channel.fail(.email, DeliveryError(.transient, "connection refused"))
        let types = ["backup.failed", "upload.failed", "pbx.cpu_overload", "pbx.web_user_locked_out", "backup.stale"]
        for (i, type) in types.enumerated() {
            try f.record(type, at: t0.addingTimeInterval(Double(i) * 600), ["job": "nightly"])
            for second in stride(from: 0, to: 600, by: 30) {
                f.relay.pass(now: t0.addingTimeInterval(Double(i) * 600 + Double(second)))
            }
        }
        let attempts = f.channel.sent.count
        f.channel.fail(.email, nil)
        f.relay.pass(now: t0.addingTimeInterval(2 * 3600))
        #expect(f.channel.sent.count == attempts + 1)
        let summary = try #require(f.channel.sent.last)
        #expect(Set(summary.events.map(\.type)) == Set(types))
        #expect(try f.state.outboxCounts().byState["pending"] == nil)
    }

    @Test func aSendCutOffByACrashIsSentAgainUnderTheSameID() throws {
        let f = try Fixture(contacts: [Contact(name: "ops", methods: [.email])])
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        try f.state.routeEvents(contacts: [Contact(name: "ops", methods: [.email])], policy: RelayPolicy(), now: t0)
        let pending = try #require(f.state.notifications().first)
        // The process died after beginning the send (the row says so) and before recording the result.
        try f.state.beginDelivery(pending.id, method: "email", now: t0.addingTimeInterval(30))
        try f.record("backup.failed", at: t0.addingTimeInterval(31), ["job": "nightly"])
        let restarted = try StateDatabase(stateDirectory: f.folder)
        let channel = Channel()
        let relay = NotificationRelay(
            state: restarted,
            setup: .init(
                contacts: [Contact(name: "ops", methods: [.email])],
                channels: NotificationChannels(smtp: nil, ami: nil, host: "pbx1", agentVersion: "test"),
                policy: RelayPolicy()),
            logger: Logger(label: "test"),
            deliver: { id, events, contact, method throws(DeliveryError) in try channel.deliver(id, events, contact, method) })
        relay.pass(now: t0.addingTimeInterval(40))
        // The begun notification goes again with its id and its events only; the later event waits for its own.
        #expect(channel.sent.map(\.id) == [pending.id])
        #expect(channel.sent.first?.events.count == 1)
        relay.pass(now: t0.addingTimeInterval(4 * 3600 + 60))
        #expect(channel.sent.count == 2)
        #expect(channel.sent.last?.events.count == 1)
    }

    @Test func pruningKeepsTheEventsOfPendingNotifications() throws {
        let f = try Fixture(contacts: [Contact(name: "ops", methods: [.email])])
        f.channel.fail(.email, DeliveryError(.transient, "down"))
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        f.relay.pass(now: t0.addingTimeInterval(30))
        try f.state.pruneHistory(now: t0.addingTimeInterval(60), runs: 1, events: 1)
        #expect(try f.state.notifications().first?.events.count == 1)
    }

    @Test func aRetryAfterLongerThanTheBackoffIsHonoured() throws {
        let f = try Fixture(contacts: [Contact(name: "ops", methods: [.email])])
        f.channel.fail(.email, DeliveryError(.transient, "429 Too Many Requests", retryAfter: 600))
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        f.relay.pass(now: t0.addingTimeInterval(30))
        #expect(try f.state.notifications().first?.dueAt == t0.addingTimeInterval(630))
        #expect(DeliveryError.retryAfterSeconds("120") == 120)
        #expect(
            DeliveryError.retryAfterSeconds("Fri, 27 Nov 2026 01:02:03 GMT", now: Date(timeIntervalSince1970: 1_795_741_023))
                == 300)
        #expect(DeliveryError.retryAfterSeconds("soon") == nil)
    }

    @Test func atStartNotificationsWaitingForARetryAreDueAtOnce() throws {
        let f = try Fixture(contacts: [Contact(name: "ops", methods: [.email])])
        f.channel.fail(.email, DeliveryError(.transient, "connection refused"))
        try f.record("backup.failed", at: t0, ["job": "nightly"])
        try f.record("pbx.cpu_overload", .warning, at: t0.addingTimeInterval(20))
        f.relay.pass(now: t0.addingTimeInterval(30))  // backup.failed tried (retry at +60 s); cpu_overload collecting
        #expect(try f.state.resumeRetries(now: t0.addingTimeInterval(40)) == 1)
        let byGroup = Dictionary(uniqueKeysWithValues: try f.state.notifications().map { ($0.groupKey, $0.dueAt) })
        #expect(byGroup["backup.failed|nightly"] == t0.addingTimeInterval(40))
        #expect(byGroup["pbx.cpu_overload"] == t0.addingTimeInterval(50), "a notification never tried keeps its group_wait")
    }
}
