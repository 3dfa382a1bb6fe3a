import Testing

/// `lifeboat schedule next`: fire times across a DST change, and errors that point at the field.
@Suite struct ScheduleCommandTests {
    @Test func fireTimesCrossTheSpringGapInBerlin() throws {
        let result = try Harness.lifeboat(
            "schedule", "next", "30 2 * * *", "--timezone", "Europe/Berlin", "--from", "2026-03-27T00:00:00Z",
            "--count", "4")
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.stdout.split(separator: "\n") == [
                "2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",  // 02:30 does not exist that night: once, right after the gap
                "2026-03-30T02:30:00+02:00",
            ])
    }

    @Test func badInputIsAUsageErrorThatSaysWhatIsWrong() throws {
        let field = try Harness.lifeboat("schedule", "next", "0 25 * * *")
        #expect(field.status == 64)
        #expect(field.stderr.contains("hour field \"25\""))
        let zone = try Harness.lifeboat("schedule", "next", "@daily", "--timezone", "Mars/Olympus")
        #expect(zone.status == 64)
        #expect(zone.stderr.contains("Mars/Olympus"))
        let from = try Harness.lifeboat("schedule", "next", "@daily", "--from", "yesterday")
        #expect(from.status == 64)
        #expect(from.stderr.contains("--from"))
    }
}
