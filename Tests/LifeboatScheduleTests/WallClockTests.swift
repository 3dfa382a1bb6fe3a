import Foundation
import LifeboatSchedule
import Testing

@Suite struct WallClockTests {
    @Test func manualClockMovesOnlyWhenTold() throws {
        let clock = ManualWallClock(try instant("2026-03-29T00:59:00Z"))
        let schedule = try CronSchedule(parsing: "30 2 * * *", timeZoneIdentifier: "Europe/Berlin")
        let due = try #require(schedule.nextFire(after: clock.now()))
        #expect(ScheduleText.iso8601(due, in: schedule.timeZone) == "2026-03-29T03:00:00+02:00")
        #expect(clock.now() < due)
        clock.advance(by: 60)
        #expect(clock.now() == due)
        #expect(schedule.missedFire(since: try instant("2026-03-29T00:59:00Z"), until: clock.now()) == due)
        clock.set(try instant("2026-03-28T00:00:00Z"))
        #expect(clock.now() == (try instant("2026-03-28T00:00:00Z")))
    }

    @Test func systemClockIsTheRealTime() {
        func read(_ clock: some WallClock) -> Date { clock.now() }
        let before = Date()
        let now = read(.system)
        #expect(now >= before && now.timeIntervalSince(before) < 60)
    }
}
