import Foundation
import Testing

/// `lifeboat notify` records an event durably (it is there for `lifeboat events` the moment the
/// command returns); bad input is refused with the option named and nothing recorded.
@Suite struct EventCommandsTests {
    func events(_ f: DemoFixture, _ extra: String...) throws -> [[String: Any]] {
        let result = try Harness.lifeboat(["events", "--json", "--config", f.config] + extra)
        #expect(result.status == 0, "\(result.output)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
    }

    @Test func notifyRecordsAnEventThatEventsListsWithItsAttributes() throws {
        let f = try DemoFixture()  // the demo's backup raised backup.succeeded
        let result = try f.lifeboat(
            "notify", "--type", "pbx.web_user_locked_out", "--level", "alert", "--attr", "user=admin", "--attr",
            "ip=203.0.113.9", "--message", "Web user admin locked out after 5 failed logins")
        #expect(result.status == 0, "\(result.output)")
        let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("evt_"))

        let all = try events(f)
        #expect(all.map { $0["type"] as? String } == ["backup.succeeded", "pbx.web_user_locked_out"])
        let locked = try #require(all.last)
        #expect(locked["id"] as? String == id)
        #expect(locked["level"] as? String == "alert")
        #expect(locked["source"] as? String == "cli")
        #expect(locked["attributes"] as? [String: String] == ["user": "admin", "ip": "203.0.113.9"])
        #expect(locked["message"] as? String == "Web user admin locked out after 5 failed logins")
        #expect((locked["time"] as? String)?.hasSuffix("Z") == true)

        #expect(try events(f, "--type", "pbx.*").count == 1)
        #expect(try events(f, "--level", "alert").count == 1)
        #expect(try events(f, "--limit", "1").first?["id"] as? String == id)
        #expect(try events(f, "--since", "2000-01-01T00:00:00Z").count == 2)
        let text = try f.lifeboat("events")
        #expect(text.stdout.contains("alert       pbx.web_user_locked_out  Web user admin locked out"), "\(text.stdout)")
    }

    @Test func badNotificationsAreRefusedAndNothingIsRecorded() throws {
        let f = try DemoFixture()
        let cases: [([String], String)] = [
            (["--type", "PBX.Locked", "--level", "alert"], "--type: 'PBX.Locked' is not an event type"),
            (["--type", "pbx.locked", "--level", "critical"], "--level: expected one of information, warning, alert"),
            (["--type", "pbx.locked", "--level", "alert", "--attr", "novalue"], "--attr: expected KEY=VALUE"),
            (["--type", "pbx.locked", "--level", "alert", "--attr", "a=1", "--attr", "a=2"], "--attr a: given twice"),
            (["--type", "pbx.locked", "--level", "alert", "--attr", "Bad Key=1"], "--attr Bad Key: a key may hold only"),
        ]
        for (arguments, message) in cases {
            let result = try Harness.lifeboat(["notify", "--config", f.config] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.output)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(try events(f).map { $0["type"] as? String } == ["backup.succeeded"])
        let badSince = try f.lifeboat("events", "--since", "yesterday")
        #expect(badSince.status == 64 && badSince.stderr.contains("--since"))
    }
}
