/// Matching on wall-clock values. Times are "local minutes": minutes since 1970-01-01T00:00 as read on
/// the wall clock (see `CivilTime`), so the search works field by field and never minute by minute.
extension CronExpression {
    /// Whether the expression selects the given civil day, with Vixie cron's day-of-month/day-of-week rule.
    func matchesDay(year: Int, month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dayOfMonth = daysOfMonth.contains(day)
        let dayOfWeek = daysOfWeek.contains(weekday)
        if dayOfMonthIsWildcard || dayOfWeekIsWildcard {
            return dayOfMonth && dayOfWeek
        }
        return dayOfMonth || dayOfWeek
    }

    /// Whether the expression selects the wall-clock minute.
    func matches(localMinute: Int) -> Bool {
        let day = CivilTime.floorDivide(localMinute, CivilTime.minutesPerDay)
        let minuteOfDay = localMinute - day * CivilTime.minutesPerDay
        let (year, month, dayOfMonth) = CivilTime.date(days: day)
        return matchesDay(year: year, month: month, day: dayOfMonth, weekday: CivilTime.weekday(days: day))
            && hours.contains(minuteOfDay / 60) && minutes.contains(minuteOfDay % 60)
    }

    /// Whether some calendar day can ever match (`0 0 30 feb *` cannot).
    var canEverMatch: Bool {
        // Every month has every weekday, so a restricted day-of-week alone always finds days.
        if !dayOfMonthIsWildcard && !dayOfWeekIsWildcard { return true }
        // Otherwise a day-of-month must exist in a selected month; in the 400-year Gregorian cycle
        // every such date falls on every weekday.
        return months.members.contains { month in
            let longest = month == 2 ? 29 : CivilTime.daysInMonth(year: 2001, month: month)
            return (daysOfMonth.first ?? .max) <= longest
        }
    }

    /// The first matching local minute in `from ..< below`.
    func firstMatch(from: Int, below: Int) -> Int? {
        guard from < below else { return nil }
        var day = CivilTime.floorDivide(from, CivilTime.minutesPerDay)
        var minuteOfDay = from - day * CivilTime.minutesPerDay
        let lastDay = CivilTime.floorDivide(below - 1, CivilTime.minutesPerDay)
        while day <= lastDay {
            let (year, month, dayOfMonth) = CivilTime.date(days: day)
            if !months.contains(month) {
                // Jump to the first day of the next selected month.
                if let next = months.next(atOrAfter: month + 1) {
                    day = CivilTime.days(year: year, month: next, day: 1)
                } else {
                    day = CivilTime.days(year: year + 1, month: months.first ?? 1, day: 1)
                }
                minuteOfDay = 0
                continue
            }
            if matchesDay(year: year, month: month, day: dayOfMonth, weekday: CivilTime.weekday(days: day)),
                let time = firstTime(atOrAfter: minuteOfDay)
            {
                let found = day * CivilTime.minutesPerDay + time
                return found < below ? found : nil
            }
            day += 1
            minuteOfDay = 0
        }
        return nil
    }

    /// The last matching local minute in `from ... through`.
    func lastMatch(from: Int, through: Int) -> Int? {
        guard from <= through else { return nil }
        var day = CivilTime.floorDivide(through, CivilTime.minutesPerDay)
        var minuteOfDay = through - day * CivilTime.minutesPerDay
        let firstDay = CivilTime.floorDivide(from, CivilTime.minutesPerDay)
        while day >= firstDay {
            let (year, month, dayOfMonth) = CivilTime.date(days: day)
            if !months.contains(month) {
                // Jump to the last day of the previous selected month.
                let (targetYear, targetMonth) =
                    months.previous(atOrBefore: month - 1).map { (year, $0) } ?? (year - 1, months.last ?? 12)
                let length = CivilTime.daysInMonth(year: targetYear, month: targetMonth)
                day = CivilTime.days(year: targetYear, month: targetMonth, day: length)
                minuteOfDay = CivilTime.minutesPerDay - 1
                continue
            }
            if matchesDay(year: year, month: month, day: dayOfMonth, weekday: CivilTime.weekday(days: day)),
                let time = lastTime(atOrBefore: minuteOfDay)
            {
                let found = day * CivilTime.minutesPerDay + time
                return found >= from ? found : nil
            }
            day -= 1
            minuteOfDay = CivilTime.minutesPerDay - 1
        }
        return nil
    }

    /// The first selected time of day (in minutes) at or after `minuteOfDay`.
    private func firstTime(atOrAfter minuteOfDay: Int) -> Int? {
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60
        while let selectedHour = hours.next(atOrAfter: hour) {
            if selectedHour != hour { minute = 0 }
            if let selectedMinute = minutes.next(atOrAfter: minute) {
                return selectedHour * 60 + selectedMinute
            }
            hour = selectedHour + 1
            minute = 0
        }
        return nil
    }

    /// The last selected time of day (in minutes) at or before `minuteOfDay`.
    private func lastTime(atOrBefore minuteOfDay: Int) -> Int? {
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60
        while let selectedHour = hours.previous(atOrBefore: hour) {
            if selectedHour != hour { minute = 59 }
            if let selectedMinute = minutes.previous(atOrBefore: minute) {
                return selectedHour * 60 + selectedMinute
            }
            hour = selectedHour - 1
            minute = 59
        }
        return nil
    }
}
