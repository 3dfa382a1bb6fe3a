import Testing

@testable import LifeboatSchedule

@Suite struct CronExpressionTests {
    func parse(_ text: String) throws -> CronExpression {
        try CronExpression(parsing: text)
    }

    @Test func wildcardsSelectWholeFields() throws {
        let every = try parse("* * * * *")
        #expect(every.minutes.members == Array(0...59))
        #expect(every.hours.members == Array(0...23))
        #expect(every.daysOfMonth.members == Array(1...31))
        #expect(every.months.members == Array(1...12))
        #expect(every.daysOfWeek.members == Array(0...6))
    }

    @Test func listsRangesAndSteps() throws {
        #expect(try parse("*/15 * * * *").minutes.members == [0, 15, 30, 45])
        #expect(try parse("1-30/5 * * * *").minutes.members == [1, 6, 11, 16, 21, 26])
        // Vixie cron: `5/10` is `5-59/10`.
        #expect(try parse("5/10 * * * *").minutes.members == [5, 15, 25, 35, 45, 55])
        #expect(try parse("0,30 9-17 * * *").hours.members == Array(9...17))
        #expect(try parse("0 1,5-7,*/12,22 * * *").hours.members == [0, 1, 5, 6, 7, 12, 22])
        #expect(try parse("0 0 */10 * *").daysOfMonth.members == [1, 11, 21, 31])
        #expect(try parse("0 0 1 */3 *").months.members == [1, 4, 7, 10])
        #expect(try parse("0 0 * * */2").daysOfWeek.members == [0, 2, 4, 6])
        #expect(try parse("7 7 7 7 7").minutes.members == [7])
        #expect(try parse("00 05 * * *").hours.members == [5])  // leading zeros
    }

    @Test func namesInAnyCase() throws {
        let named = try parse("0 0 * JAN-Mar,dec Mon-FRI")
        #expect(named.months.members == [1, 2, 3, 12])
        #expect(named.daysOfWeek.members == [1, 2, 3, 4, 5])
        #expect(try parse("0 0 * jan-dec/2 sun,sat").months.members == [1, 3, 5, 7, 9, 11])
        #expect(try parse("0 0 * * sun,sat").daysOfWeek.members == [0, 6])
    }

    @Test func zeroAndSevenAreBothSunday() throws {
        #expect(try parse("0 0 * * 7").daysOfWeek.members == [0])
        #expect(try parse("0 0 * * 0").daysOfWeek.members == [0])
        #expect(try parse("0 0 * * 5-7").daysOfWeek.members == [0, 5, 6])
        #expect(try parse("0 0 * * 0-7").daysOfWeek.members == Array(0...6))
    }

    @Test(arguments: [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
    ])
    func macrosExpand(macro: String, fields: String) throws {
        let expanded = try parse(macro)
        let explicit = try parse(fields)
        #expect(expanded.minutes == explicit.minutes)
        #expect(expanded.hours == explicit.hours)
        #expect(expanded.daysOfMonth == explicit.daysOfMonth)
        #expect(expanded.months == explicit.months)
        #expect(expanded.daysOfWeek == explicit.daysOfWeek)
        #expect(expanded.followsElapsedTime == explicit.followsElapsedTime)
        #expect(expanded.description == macro)
    }

    @Test func elapsedTimeJobsAreThoseWithAWildcardMinuteOrHour() throws {
        for text in ["* * * * *", "*/15 * * * *", "0 * * * *", "30 */2 * * *", "* 2 * * *", "@hourly"] {
            #expect(try parse(text).followsElapsedTime, "\(text)")
        }
        for text in ["30 2 * * *", "0 2 * * *", "0-59 0-23 * * *", "0,30 1-3 * * *", "@daily", "0 0 * * */2"] {
            #expect(try !parse(text).followsElapsedTime, "\(text)")
        }
    }

    @Test func descriptionIsTheExpressionAsWritten() throws {
        let expression = try parse("  30  2 *\t* *\n")
        #expect(expression.description == "30 2 * * *")
        #expect(expression == (try parse("30 2 * * *")))
        #expect(expression != (try parse("30 2 * * 0-7")))
    }

    @Test(arguments: [
        ("61 * * * *", CronField.minute, "61", "61 is out of range 0-59"),
        ("* 24 * * *", .hour, "24", "24 is out of range 0-23"),
        ("* * 0 * *", .dayOfMonth, "0", "0 is out of range 1-31"),
        ("* * 32 * *", .dayOfMonth, "32", "32 is out of range 1-31"),
        ("* * * 13 *", .month, "13", "13 is out of range 1-12"),
        ("* * * * 8", .dayOfWeek, "8", "8 is out of range 0-7"),
        ("0 0 * 1,2,99 *", .month, "1,2,99", "99 is out of range 1-12"),
        (
            "99999999999999999999 * * * *", .minute, "99999999999999999999",
            "99999999999999999999 is out of range 0-59"
        ),
        ("* * * foo *", .month, "foo", "\"foo\" is not a number or a month name (jan-dec)"),
        ("* * * * monday", .dayOfWeek, "monday", "\"monday\" is not a number or a day name (sun-sat)"),
        ("mon * * * *", .minute, "mon", "\"mon\" is not a number"),
        ("* * L * *", .dayOfMonth, "L", "\"L\" is not a number"),
        ("* * ? * *", .dayOfMonth, "?", "\"?\" is not a number"),
        ("* * * * 1#2", .dayOfWeek, "1#2", "\"1#2\" is not a number or a day name (sun-sat)"),
        ("30-10 * * * *", .minute, "30-10", "range \"30-10\" is reversed: its start 30 is after its end 10"),
        ("0 0 * * sat-sun", .dayOfWeek, "sat-sun", "range \"sat-sun\" is reversed: its start 6 is after its end 0"),
        ("*/0 * * * *", .minute, "*/0", "step 0 in \"*/0\" is out of range 1-59"),
        ("0 */24 * * *", .hour, "*/24", "step 24 in \"*/24\" is out of range 1-23"),
        ("*/x * * * *", .minute, "*/x", "step \"x\" in \"*/x\" is not a positive number"),
        ("*/ * * * *", .minute, "*/", "step \"\" in \"*/\" is not a positive number"),
        ("1/2/3 * * * *", .minute, "1/2/3", "\"1/2/3\" has more than one step"),
        ("1-2-3 * * * *", .minute, "1-2-3", "\"1-2-3\" is not a range of the form start-end"),
        ("-5 * * * *", .minute, "-5", "\"-5\" is not a range of the form start-end"),
        ("5- * * * *", .minute, "5-", "\"5-\" is not a range of the form start-end"),
        ("*-5 * * * *", .minute, "*-5", "\"*\" is not a number"),
        ("1,,2 * * * *", .minute, "1,,2", "empty item in the list"),
        ("0 0 1, * *", .dayOfMonth, "1,", "empty item in the list"),
    ])
    func invalidFieldsArePointedAt(text: String, field: CronField, fieldText: String, reason: String) {
        #expect {
            try CronExpression(parsing: text)
        } throws: { error in
            guard let error = error as? CronError else { return false }
            return error.code == .invalidField && error.field == field && error.fieldText == fieldText
                && error.reason == reason
                && error.description == "cron expression \"\(text)\": \(field.name) field \"\(fieldText)\": \(reason)"
        }
    }

    @Test func errorMessageNamesFieldTextAndReason() {
        #expect(throws: CronError.self) { try CronExpression(parsing: "61 * * * *") }
        do throws(CronError) {
            _ = try CronExpression(parsing: "61 * * * *")
        } catch {
            #expect(error.description == "cron expression \"61 * * * *\": minute field \"61\": 61 is out of range 0-59")
            #expect(error.field?.position == 1)
        }
        do throws(CronError) {
            _ = try CronExpression(parsing: "0 0 * * fri-mon")
        } catch {
            #expect(error.field == .dayOfWeek)
            #expect(error.field?.position == 5)
            #expect(error.field?.name == "day-of-week")
        }
    }

    @Test(arguments: [("* * * *", 4), ("* * * * * *", 6), ("0 2 * * * /usr/bin/backup", 6), ("", 0), ("   ", 0)])
    func wrongFieldCount(text: String, found: Int) {
        #expect {
            try CronExpression(parsing: text)
        } throws: { error in
            guard let error = error as? CronError else { return false }
            return error.code == .fieldCount && error.field == nil
                && error.reason == "expected 5 fields (minute hour day-of-month month day-of-week), found \(found)"
        }
    }

    @Test func unknownMacros() {
        #expect {
            try CronExpression(parsing: "@often")
        } throws: { error in
            (error as? CronError)?.code == .unknownMacro
                && (error as? CronError)?.description
                    == "cron expression \"@often\": unknown macro \"@often\"; expected one of @yearly, @annually, "
                    + "@monthly, @weekly, @daily, @midnight, @hourly"
        }
        #expect {
            try CronExpression(parsing: "@reboot")
        } throws: { error in
            (error as? CronError)?.reason.hasPrefix("@reboot is not a time schedule") == true
        }
        // A macro is a whole expression.
        #expect {
            try CronExpression(parsing: "@daily *")
        } throws: { error in
            (error as? CronError)?.code == .fieldCount
        }
    }
}
