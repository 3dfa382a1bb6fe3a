import Foundation
import Testing

@testable import LifeboatSchedule

/// Fire times across daylight-saving changes, computed by hand from `zdump -v ZONE | grep 2026`.
///
/// Fixed-time jobs (neither minute nor hour starts with `*`) fire once right after a gap that swallows
/// their time and only in the first pass of a repeated time; elapsed-time jobs fire at every matching
/// wall-clock minute as it happens. Each comment gives the UTC instants.
@Suite struct DaylightSavingTests {
    // MARK: Europe/Berlin, 2026-03-29: 01:00Z, 02:00 CET (+01:00) becomes 03:00 CEST (+02:00).

    @Test func berlinSpringForwardFixedTime() throws {
        // 02:30 does not exist on the 29th: fired at the first instant after the gap, 03:00 CEST = 01:00Z.
        #expect(
            try fires("30 2 * * *", in: "Europe/Berlin", after: "2026-03-28T00:00:00Z", count: 3) == [
                "2026-03-28T02:30:00+01:00",  // 01:30Z
                "2026-03-29T03:00:00+02:00",  // 01:00Z
                "2026-03-30T02:30:00+02:00",  // 00:30Z
            ])
        #expect(
            try fires("0 2 * * *", in: "Europe/Berlin", after: "2026-03-28T00:00:00Z", count: 3) == [
                "2026-03-28T02:00:00+01:00",  // 01:00Z
                "2026-03-29T03:00:00+02:00",  // 01:00Z
                "2026-03-30T02:00:00+02:00",  // 00:00Z
            ])
    }

    @Test func berlinSkippedTimesFireOnceTogether() throws {
        // 02:00, 02:15, 02:30 and 02:45 are all skipped: one run at 01:00Z, not four.
        #expect(
            try fires("0,15,30,45 2 * * *", in: "Europe/Berlin", after: "2026-03-29T00:00:00Z", count: 2) == [
                "2026-03-29T03:00:00+02:00",  // 01:00Z, once
                "2026-03-30T02:00:00+02:00",  // 00:00Z
            ])
        // `*/15 2` is elapsed-time (its minute starts with `*`): nothing is made up on the 29th.
        #expect(
            try fires("*/15 2 * * *", in: "Europe/Berlin", after: "2026-03-29T00:00:00Z", count: 2) == [
                "2026-03-30T02:00:00+02:00",  // Mar 30 00:00Z
                "2026-03-30T02:15:00+02:00",  // Mar 30 00:15Z
            ])
        // 03:00 itself also matches: still one run at 01:00Z, then 03:30 CEST.
        #expect(
            try fires("0,30 2,3 * * *", in: "Europe/Berlin", after: "2026-03-29T00:00:00Z", count: 2) == [
                "2026-03-29T03:00:00+02:00",  // 01:00Z
                "2026-03-29T03:30:00+02:00",  // 01:30Z
            ])
    }

    @Test func berlinSpringForwardElapsedTime() throws {
        // Nothing is made up for 02:00-02:59.
        #expect(
            try fires("*/15 * * * *", in: "Europe/Berlin", after: "2026-03-29T01:30:00+01:00", count: 3) == [
                "2026-03-29T01:45:00+01:00",  // 00:45Z
                "2026-03-29T03:00:00+02:00",  // 01:00Z
                "2026-03-29T03:15:00+02:00",  // 01:15Z
            ])
        #expect(
            try fires("0 * * * *", in: "Europe/Berlin", after: "2026-03-29T00:30:00+01:00", count: 3) == [
                "2026-03-29T01:00:00+01:00",  // 00:00Z
                "2026-03-29T03:00:00+02:00",  // 01:00Z
                "2026-03-29T04:00:00+02:00",  // 02:00Z
            ])
        #expect(
            try fires("30 * * * *", in: "Europe/Berlin", after: "2026-03-29T00:00:00Z", count: 2) == [
                "2026-03-29T01:30:00+01:00",  // 00:30Z
                "2026-03-29T03:30:00+02:00",  // 01:30Z; 02:30 never happened
            ])
    }

    // MARK: Europe/Berlin, 2026-10-25: 01:00Z, 03:00 CEST (+02:00) becomes 02:00 CET (+01:00).

    @Test func berlinFallBackFixedTime() throws {
        // 02:30 happens twice (00:30Z and 01:30Z): only the first pass.
        #expect(
            try fires("30 2 * * *", in: "Europe/Berlin", after: "2026-10-24T12:00:00Z", count: 2) == [
                "2026-10-25T02:30:00+02:00",  // 00:30Z
                "2026-10-26T02:30:00+01:00",  // 01:30Z on the 26th
            ])
        #expect(
            try fires("0 2 * * *", in: "Europe/Berlin", after: "2026-10-24T12:00:00Z", count: 2) == [
                "2026-10-25T02:00:00+02:00",  // 00:00Z
                "2026-10-26T02:00:00+01:00",  // 01:00Z on the 26th
            ])
        // Asked from inside the second pass, the repeated 02:30 is not offered again.
        #expect(
            try fires("30 2 * * *", in: "Europe/Berlin", after: "2026-10-25T02:10:00+01:00", count: 1) == [
                "2026-10-26T02:30:00+01:00"
            ])
        // A time after the repeated hour is unaffected: 03:00 CET = 02:00Z.
        #expect(
            try fires("0 3 * * *", in: "Europe/Berlin", after: "2026-10-25T00:00:00Z", count: 1) == [
                "2026-10-25T03:00:00+01:00"
            ])
    }

    @Test func berlinFallBackElapsedTime() throws {
        // Both passes of 02:00-02:59.
        #expect(
            try fires("*/15 * * * *", in: "Europe/Berlin", after: "2026-10-25T02:30:00+02:00", count: 6) == [
                "2026-10-25T02:45:00+02:00",  // 00:45Z
                "2026-10-25T02:00:00+01:00",  // 01:00Z
                "2026-10-25T02:15:00+01:00",  // 01:15Z
                "2026-10-25T02:30:00+01:00",  // 01:30Z
                "2026-10-25T02:45:00+01:00",  // 01:45Z
                "2026-10-25T03:00:00+01:00",  // 02:00Z
            ])
        #expect(
            try fires("0 * * * *", in: "Europe/Berlin", after: "2026-10-25T01:30:00+02:00", count: 3) == [
                "2026-10-25T02:00:00+02:00",  // 00:00Z
                "2026-10-25T02:00:00+01:00",  // 01:00Z
                "2026-10-25T03:00:00+01:00",  // 02:00Z
            ])
        // A wildcard minute in a fixed hour is elapsed-time too: 02:59 twice.
        #expect(
            try fires("59 * * * *", in: "Europe/Berlin", after: "2026-10-25T00:00:00Z", count: 2) == [
                "2026-10-25T02:59:00+02:00",  // 00:59Z
                "2026-10-25T02:59:00+01:00",  // 01:59Z
            ])
        #expect(
            try fires("* 2 * * *", in: "Europe/Berlin", after: "2026-10-25T02:58:00+02:00", count: 2) == [
                "2026-10-25T02:59:00+02:00",  // 00:59Z
                "2026-10-25T02:00:00+01:00",  // 01:00Z
            ])
    }

    @Test func berlinMissedRuns() throws {
        // Down over the gap: the skipped 02:30 ran at 03:00 CEST.
        #expect(
            try missed("30 2 * * *", in: "Europe/Berlin", since: "2026-03-29T00:00:00Z", until: "2026-03-29T01:00:00Z")
                == "2026-03-29T03:00:00+02:00")
        #expect(
            try missed("30 2 * * *", in: "Europe/Berlin", since: "2026-03-29T00:00:00Z", until: "2026-03-29T00:59:59Z")
                == nil)
        // Down over the repeated hour: the second 02:30 (01:30Z) is not a run, the first (00:30Z) is.
        #expect(
            try missed("30 2 * * *", in: "Europe/Berlin", since: "2026-10-25T00:40:00Z", until: "2026-10-25T01:40:00Z")
                == nil)
        #expect(
            try missed("30 2 * * *", in: "Europe/Berlin", since: "2026-10-25T00:00:00Z", until: "2026-10-25T01:40:00Z")
                == "2026-10-25T02:30:00+02:00")
        // An elapsed-time job ran in the second pass too.
        #expect(
            try missed("30 * * * *", in: "Europe/Berlin", since: "2026-10-25T00:40:00Z", until: "2026-10-25T01:40:00Z")
                == "2026-10-25T02:30:00+01:00")
    }

    // MARK: America/New_York, 2026-03-08: 07:00Z, 02:00 EST (-05:00) becomes 03:00 EDT (-04:00).

    @Test func newYorkSpringForward() throws {
        #expect(
            try fires("30 2 * * *", in: "America/New_York", after: "2026-03-07T00:00:00Z", count: 3) == [
                "2026-03-07T02:30:00-05:00",  // 07:30Z
                "2026-03-08T03:00:00-04:00",  // 07:00Z, right after the gap
                "2026-03-09T02:30:00-04:00",  // 06:30Z
            ])
        #expect(
            try fires("0 2 * * *", in: "America/New_York", after: "2026-03-08T00:00:00Z", count: 2) == [
                "2026-03-08T03:00:00-04:00",  // 07:00Z
                "2026-03-09T02:00:00-04:00",  // 06:00Z
            ])
        #expect(
            try fires("*/15 * * * *", in: "America/New_York", after: "2026-03-08T01:30:00-05:00", count: 3) == [
                "2026-03-08T01:45:00-05:00",  // 06:45Z
                "2026-03-08T03:00:00-04:00",  // 07:00Z
                "2026-03-08T03:15:00-04:00",  // 07:15Z
            ])
    }

    // MARK: America/New_York, 2026-11-01: 06:00Z, 02:00 EDT (-04:00) becomes 01:00 EST (-05:00).

    @Test func newYorkFallBack() throws {
        #expect(
            try fires("30 1 * * *", in: "America/New_York", after: "2026-11-01T00:00:00Z", count: 2) == [
                "2026-11-01T01:30:00-04:00",  // 05:30Z; not again at 06:30Z
                "2026-11-02T01:30:00-05:00",  // 06:30Z on the 2nd
            ])
        // 02:00 happens once, in EST.
        #expect(
            try fires("0 2 * * *", in: "America/New_York", after: "2026-11-01T00:00:00Z", count: 1) == [
                "2026-11-01T02:00:00-05:00"  // 07:00Z
            ])
        #expect(
            try fires("*/30 * * * *", in: "America/New_York", after: "2026-11-01T00:45:00-04:00", count: 5) == [
                "2026-11-01T01:00:00-04:00",  // 05:00Z
                "2026-11-01T01:30:00-04:00",  // 05:30Z
                "2026-11-01T01:00:00-05:00",  // 06:00Z
                "2026-11-01T01:30:00-05:00",  // 06:30Z
                "2026-11-01T02:00:00-05:00",  // 07:00Z
            ])
        #expect(
            try fires("0 * * * *", in: "America/New_York", after: "2026-11-01T00:30:00-04:00", count: 3) == [
                "2026-11-01T01:00:00-04:00",  // 05:00Z
                "2026-11-01T01:00:00-05:00",  // 06:00Z
                "2026-11-01T02:00:00-05:00",  // 07:00Z
            ])
    }

    // MARK: Australia/Lord_Howe, 2026-04-05: Apr 4 15:00Z, 02:00 (+11:00) becomes 01:30 (+10:30).

    @Test func lordHoweFallBackByHalfAnHour() throws {
        // 01:45 happens at 14:45Z (+11:00) and again at 15:15Z (+10:30): first pass only.
        #expect(
            try fires("45 1 * * *", in: "Australia/Lord_Howe", after: "2026-04-04T00:00:00Z", count: 2) == [
                "2026-04-05T01:45:00+11:00",  // Apr 4 14:45Z
                "2026-04-06T01:45:00+10:30",  // Apr 5 15:15Z
            ])
        // 01:15 is before the repeated half hour and 02:00 after it (02:00 +11:00 never shows).
        #expect(
            try fires("15 1 * * *", in: "Australia/Lord_Howe", after: "2026-04-04T00:00:00Z", count: 1) == [
                "2026-04-05T01:15:00+11:00"  // 14:15Z
            ])
        #expect(
            try fires("0 2 * * *", in: "Australia/Lord_Howe", after: "2026-04-04T00:00:00Z", count: 1) == [
                "2026-04-05T02:00:00+10:30"  // 15:30Z
            ])
        #expect(
            try fires("*/15 * * * *", in: "Australia/Lord_Howe", after: "2026-04-05T01:20:00+11:00", count: 5) == [
                "2026-04-05T01:30:00+11:00",  // 14:30Z
                "2026-04-05T01:45:00+11:00",  // 14:45Z
                "2026-04-05T01:30:00+10:30",  // 15:00Z
                "2026-04-05T01:45:00+10:30",  // 15:15Z
                "2026-04-05T02:00:00+10:30",  // 15:30Z
            ])
        // No minute-0 time repeats, so hourly runs are 90 minutes apart across the change.
        #expect(
            try fires("0 * * * *", in: "Australia/Lord_Howe", after: "2026-04-05T00:30:00+11:00", count: 3) == [
                "2026-04-05T01:00:00+11:00",  // 14:00Z
                "2026-04-05T02:00:00+10:30",  // 15:30Z
                "2026-04-05T03:00:00+10:30",  // 16:30Z
            ])
    }

    // MARK: Australia/Lord_Howe, 2026-10-04: Oct 3 15:30Z, 02:00 (+10:30) becomes 02:30 (+11:00).

    @Test func lordHoweSpringForwardByHalfAnHour() throws {
        // 02:15 is in the gap 02:00-02:29: fired at 02:30 +11:00 = Oct 3 15:30Z.
        #expect(
            try fires("15 2 * * *", in: "Australia/Lord_Howe", after: "2026-10-02T00:00:00Z", count: 3) == [
                "2026-10-03T02:15:00+10:30",  // Oct 2 15:45Z
                "2026-10-04T02:30:00+11:00",  // Oct 3 15:30Z
                "2026-10-05T02:15:00+11:00",  // Oct 4 15:15Z
            ])
        #expect(
            try fires("0 2 * * *", in: "Australia/Lord_Howe", after: "2026-10-03T12:00:00Z", count: 1) == [
                "2026-10-04T02:30:00+11:00"  // 15:30Z
            ])
        // 02:00 and 02:15 skipped, 02:30 exists: all three are one run at 15:30Z.
        #expect(
            try fires("0,15,30 2 * * *", in: "Australia/Lord_Howe", after: "2026-10-03T12:00:00Z", count: 2) == [
                "2026-10-04T02:30:00+11:00",  // Oct 3 15:30Z
                "2026-10-05T02:00:00+11:00",  // Oct 4 15:00Z
            ])
        #expect(
            try fires("45 1 * * *", in: "Australia/Lord_Howe", after: "2026-10-03T12:00:00Z", count: 1) == [
                "2026-10-04T01:45:00+10:30"  // 15:15Z, before the gap
            ])
        #expect(
            try fires("*/15 * * * *", in: "Australia/Lord_Howe", after: "2026-10-04T01:30:00+10:30", count: 3) == [
                "2026-10-04T01:45:00+10:30",  // 15:15Z
                "2026-10-04T02:30:00+11:00",  // 15:30Z; 02:00 and 02:15 never happened
                "2026-10-04T02:45:00+11:00",  // 15:45Z
            ])
        #expect(
            try missed(
                "15 2 * * *", in: "Australia/Lord_Howe", since: "2026-10-03T15:00:00Z", until: "2026-10-03T15:30:00Z")
                == "2026-10-04T02:30:00+11:00")
    }

    // MARK: Other zone changes

    @Test func santiagoChangesAtMidnight() throws {
        // America/Santiago, 2026-09-06: 04:00Z, 00:00 (-04:00) becomes 01:00 (-03:00), so that Sunday's
        // midnight never happens: the daily and weekly midnight jobs run at 01:00 instead.
        #expect(
            try fires("0 0 * * *", in: "America/Santiago", after: "2026-09-05T12:00:00Z", count: 2) == [
                "2026-09-06T01:00:00-03:00",  // 04:00Z
                "2026-09-07T00:00:00-03:00",  // 03:00Z
            ])
        #expect(
            try fires("@weekly", in: "America/Santiago", after: "2026-09-05T12:00:00Z", count: 1) == [
                "2026-09-06T01:00:00-03:00"  // 04:00Z, still Sunday
            ])
        // 2026-04-05: 03:00Z, 00:00 (-03:00) becomes 23:00 (-04:00) on Saturday the 4th, which repeats.
        #expect(
            try fires("30 23 * * *", in: "America/Santiago", after: "2026-04-04T12:00:00Z", count: 2) == [
                "2026-04-04T23:30:00-03:00",  // 02:30Z; not again at 03:30Z
                "2026-04-05T23:30:00-04:00",  // Apr 6 03:30Z
            ])
        #expect(
            try fires("30 23 * * sat", in: "America/Santiago", after: "2026-04-04T12:00:00Z", count: 2) == [
                "2026-04-04T23:30:00-03:00",  // 02:30Z
                "2026-04-11T23:30:00-04:00",  // Apr 12 03:30Z
            ])
    }

    @Test func samoaSkippedAWholeDay() throws {
        // Pacific/Apia went from -10:00 to +14:00 at 2011-12-30T10:00Z: 30 December never happened.
        #expect(
            try fires("0 12 * * *", in: "Pacific/Apia", after: "2011-12-29T00:00:00Z", count: 3) == [
                "2011-12-29T12:00:00-10:00",  // Dec 29 22:00Z
                "2011-12-31T00:00:00+14:00",  // Dec 30 10:00Z: the 30th's noon, right after the gap
                "2011-12-31T12:00:00+14:00",  // Dec 30 22:00Z
            ])
        #expect(
            try fires("0 * * * *", in: "Pacific/Apia", after: "2011-12-29T22:30:00-10:00", count: 2) == [
                "2011-12-29T23:00:00-10:00",  // 09:00Z
                "2011-12-31T00:00:00+14:00",  // 10:00Z
            ])
    }
}
