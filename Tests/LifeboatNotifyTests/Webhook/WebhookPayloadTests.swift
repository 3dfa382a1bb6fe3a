import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// The JSON bodies of webhook notifications: parsed back with JSONSerialization, byte-for-byte stable.
@Suite struct WebhookPayloadTests {
    static let failed = Event(
        id: "evt_01kaf3m2x0p8q9r7s6t5v4w3y2", type: "backup.failed", level: .alert,
        time: Date(timeIntervalSince1970: 1_795_000_000), source: "agent",
        attributes: ["job": "nightly", "storeName": "s3", "path": "/var/backups"],
        message: "the upload to s3 timed out")
    static let stale = Event(
        id: "evt_01kaf3m2x0aaaaaaaaaaaaaaaa", type: "backup.stale", level: .warning,
        time: Date(timeIntervalSince1970: 1_794_999_000), source: "agent", attributes: ["job": "nightly"])
    static let upload = Event(
        id: "evt_01kaf3m2x0bbbbbbbbbbbbbbbb", type: "upload.failed", level: .warning,
        time: Date(timeIntervalSince1970: 1_795_000_600), source: "agent", attributes: [:],
        message: "line one\r\nline two")
    static let again = Event(
        id: "evt_01kaf3m2x0cccccccccccccccc", type: "backup.failed", level: .alert,
        time: Date(timeIntervalSince1970: 1_795_000_600), source: "agent", attributes: ["job": "hourly"])

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func oneEventHasEveryField() throws {
        let body = WebhookPayload.body(for: Self.failed, host: "pbx1")
        let json = try Self.object(body)
        #expect(json["kind"] as? String == "event")
        #expect(json["host"] as? String == "pbx1")
        #expect(json["level"] as? String == "alert")
        #expect(json["version"] as? Int == 1)
        #expect(json["summary"] as? String == "[alert] pbx1: backup.failed: the upload to s3 timed out")
        let event = try #require(json["event"] as? [String: Any])
        #expect(Set(event.keys) == ["id", "type", "level", "time", "source", "attributes", "message"])
        #expect(event["id"] as? String == "evt_01kaf3m2x0p8q9r7s6t5v4w3y2")
        #expect(event["type"] as? String == "backup.failed")
        #expect(event["level"] as? String == "alert")
        #expect(event["time"] as? String == "2026-11-18T11:06:40Z")
        #expect(event["source"] as? String == "agent")
        #expect(event["message"] as? String == "the upload to s3 timed out")
        // Attribute names are kept as they are (no snake_case conversion), slashes unescaped.
        #expect(
            event["attributes"] as? [String: String] == ["job": "nightly", "storeName": "s3", "path": "/var/backups"])
        #expect(String(decoding: body, as: UTF8.self).contains("\"/var/backups\""))
    }

    @Test func keysAreSortedAndTheBytesAreStable() {
        let body = WebhookPayload.body(for: Self.failed, host: "pbx1")
        #expect(body == WebhookPayload.body(for: Self.failed, host: "pbx1"))
        let text = String(decoding: body, as: UTF8.self)
        #expect(
            text.hasPrefix(
                "{\"event\":{\"attributes\":{\"job\":\"nightly\",\"path\":\"/var/backups\",\"storeName\":\"s3\"},"
                    + "\"id\":\"evt_01kaf3m2x0p8q9r7s6t5v4w3y2\",\"level\":\"alert\","))
        #expect(
            text.hasSuffix(
                "\"host\":\"pbx1\",\"kind\":\"event\",\"level\":\"alert\",\"summary\":"
                    + "\"[alert] pbx1: backup.failed: the upload to s3 timed out\",\"version\":1}"))
    }

    @Test func anEventWithoutAMessageHasNoMessageKeyAndASummaryOfItsAttributes() throws {
        let json = try Self.object(WebhookPayload.body(for: Self.stale, host: "pbx1"))
        let event = try #require(json["event"] as? [String: Any])
        #expect(event["message"] == nil)
        #expect(json["summary"] as? String == "[warning] pbx1: backup.stale (job=nightly)")
    }

    @Test func aDigestListsItsEventsOldestFirstWithTheHighestLevel() throws {
        let json = try Self.object(
            WebhookPayload.body(digest: [Self.upload, Self.failed, Self.again, Self.stale], host: "pbx1"))
        #expect(json["kind"] as? String == "digest")
        #expect(json["host"] as? String == "pbx1")
        #expect(json["count"] as? Int == 4)
        #expect(json["level"] as? String == "alert")
        #expect(json["first_time"] as? String == "2026-11-18T10:50:00Z")
        #expect(json["last_time"] as? String == "2026-11-18T11:16:40Z")
        let events = try #require(json["events"] as? [[String: Any]])
        // By time; two events of the same second by id.
        #expect(
            events.compactMap { $0["id"] as? String } == [
                Self.stale.id, Self.failed.id, Self.upload.id, Self.again.id,
            ])
        #expect(
            events.allSatisfy { $0["type"] is String && $0["time"] is String && $0["attributes"] is [String: String] })
        #expect(
            json["summary"] as? String
                == "[alert] pbx1: 4 events (2 backup.failed, 1 backup.stale, 1 upload.failed)")
        // Line breaks in a message survive in the JSON but not in the one-line summary.
        #expect(events[2]["message"] as? String == "line one\r\nline two")
        #expect(WebhookPayload.summary(of: Self.upload, host: "h") == "[warning] h: upload.failed: line one  line two")
    }
}
