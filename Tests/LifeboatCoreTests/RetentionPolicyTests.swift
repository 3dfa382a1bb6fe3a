import Foundation
import Testing

@testable import LifeboatCore

@Suite struct RetentionPolicyTests {
    let utc: Calendar = Timestamp.utcCalendar

    /// One snapshot every 6 hours for 60 days, newest first in the result.
    func series(count: Int = 240, every hours: Double = 6) -> [RetentionPolicy.Item] {
        let start = Timestamp.parseISO8601("2026-01-01T00:00:00Z")!
        return (0..<count).map { i in
            RetentionPolicy.Item(
                id: SnapshotID(String(format: "%08x", i))!, created: start.addingTimeInterval(Double(i) * hours * 3600))
        }
    }

    func kept(_ policy: RetentionPolicy, _ items: [RetentionPolicy.Item], now: Date? = nil) -> [String] {
        let now = now ?? items.map(\.created).max()!
        return policy.apply(to: items, now: now, calendar: utc).filter(\.keep).map { Timestamp.iso8601($0.item.created) }
    }

    @Test func emptyPolicyKeepsEverything() {
        let items = series(count: 10)
        #expect(kept(RetentionPolicy(), items).count == 10)
    }

    @Test func keepLastKeepsTheNewest() {
        let items = series(count: 10)
        #expect(kept(RetentionPolicy(keepLast: 3), items) == [
            "2026-01-03T06:00:00Z", "2026-01-03T00:00:00Z", "2026-01-02T18:00:00Z",
        ])
    }

    @Test func keepDailyKeepsNewestOfEachDay() {
        let items = series(count: 12)  // 3 days, 4 per day
        #expect(kept(RetentionPolicy(keepDaily: 2), items) == ["2026-01-03T18:00:00Z", "2026-01-02T18:00:00Z"])
    }

    @Test func rulesUnite() {
        let items = series(count: 12)
        let result = kept(RetentionPolicy(keepLast: 2, keepDaily: 3), items)
        #expect(result == ["2026-01-03T18:00:00Z", "2026-01-03T12:00:00Z", "2026-01-02T18:00:00Z", "2026-01-01T18:00:00Z"])
    }

    @Test func weeklyMonthlyYearlyBuckets() {
        let items = series(count: 240)  // 60 days
        #expect(kept(RetentionPolicy(keepMonthly: 12), items).count == 3)  // Jan, Feb, Mar 1
        #expect(kept(RetentionPolicy(keepYearly: 5), items) == ["2026-03-01T18:00:00Z"])
        let weekly = kept(RetentionPolicy(keepWeekly: 4), items)
        #expect(weekly.count == 4)
        #expect(weekly.first == "2026-03-01T18:00:00Z")  // a Sunday: ISO week 9
        #expect(weekly[1] == "2026-02-22T18:00:00Z")
    }

    @Test func keepWithinIsRelativeToTheNewestSnapshot() {
        let items = series(count: 12)
        #expect(kept(RetentionPolicy(keepWithin: 86_400), items).count == 5)
    }

    @Test func maxCountAndAgeCapWhatIsKept() {
        let items = series(count: 12)
        #expect(kept(RetentionPolicy(maxCount: 4), items).count == 4)
        let now = Timestamp.parseISO8601("2026-01-04T12:00:00Z")!
        #expect(kept(RetentionPolicy(maxAgeDays: 2), items, now: now) == [
            "2026-01-03T18:00:00Z", "2026-01-03T12:00:00Z", "2026-01-03T06:00:00Z", "2026-01-03T00:00:00Z",
            "2026-01-02T18:00:00Z", "2026-01-02T12:00:00Z",
        ])
    }

    @Test func theNewestSnapshotIsNeverDeleted() {
        let items = series(count: 5)
        let now = Timestamp.parseISO8601("2027-01-01T00:00:00Z")!
        let result = RetentionPolicy(maxAgeDays: 1).apply(to: items, now: now, calendar: utc)
        #expect(result.filter(\.keep).map(\.item.id.rawValue) == ["00000004"])
        #expect(result.first?.reasons == ["newest snapshot"])
        #expect(result.dropFirst().allSatisfy { $0.reasons == ["older than max_age_days 1"] })
        #expect(RetentionPolicy(maxCount: 0).apply(to: items, now: now, calendar: utc).filter(\.keep).count == 1)
    }

    @Test func everyDecisionHasAReason() {
        let result = RetentionPolicy(keepLast: 1).apply(to: series(count: 3), now: Date(), calendar: utc)
        #expect(result.map(\.reasons) == [["keep_last 1"], ["matched no keep rule"], ["matched no keep rule"]])
    }
}

@Suite struct FormatTests {
    @Test(arguments: [("36h", 129_600), ("30s", 30), ("1h30m", 5400), ("7d", 604_800), ("2w", 1_209_600)])
    func durations(text: String, seconds: Int64) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["", "h", "10", "1x", "-1h", "1.5h", "99999999999999999999s"])
    func badDurations(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test func objectNames() throws {
        let naming = ObjectNaming(prefix: "/lifeboat/")
        let id = SnapshotID("0123abcd")!
        let created = Timestamp.parseISO8601("2026-11-26T17:00:05Z")!
        let name = naming.archiveName(host: "pbx1", job: "nightly", created: created, id: id, extension: ".tar.zst.age")
        #expect(name == "lifeboat/pbx1/nightly/20261126T170005Z-0123abcd.tar.zst.age")
        #expect(ObjectNaming.sidecarName(forArchive: name) == "lifeboat/pbx1/nightly/20261126T170005Z-0123abcd.json")
        let parsed = try #require(ObjectNaming.parse(name))
        #expect(parsed.id == id && parsed.created == created)
        #expect(ObjectNaming(prefix: "").jobPrefix(host: "h", job: "j") == "h/j/")
        #expect(ObjectNaming.parse("x/garbage.json") == nil)
    }

    @Test func snapshotIDs() {
        #expect(SnapshotID("0123abcd") != nil)
        #expect(SnapshotID("0123ABCD") == nil)
        #expect(SnapshotID("0123abc") == nil)
        let ids = Set((0..<100).map { _ in SnapshotID.generate() })
        #expect(ids.count > 95)
    }

    @Test func secretsAreRedacted() {
        let s = Secret("hunter2")
        #expect("\(s)" == "<redacted>")
        #expect(String(reflecting: s) == "<redacted>")
        #expect(s.reveal() == "hunter2")
    }

    @Test func hex() {
        #expect(Hex.encode([0, 1, 0xab, 0xff]) == "0001abff")
        #expect(Hex.decode("0001ABff") == [0, 1, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }
}
