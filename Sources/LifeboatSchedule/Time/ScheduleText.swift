import Foundation

/// Text forms of fire times, as printed by `lifeboat schedule next` and read from `--from`.
public enum ScheduleText {
    /// ISO 8601 with the zone's offset at that instant: `2026-03-29T03:00:00+02:00`.
    ///
    /// Whole seconds; an offset of zero is written `+00:00`, and a historical offset with seconds
    /// (local mean time) as `+00:53:28`.
    public static func iso8601(_ date: Date, in zone: TimeZone) -> String {
        let instant = CronSchedule.wholeSeconds(date)
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))
        let t = CivilTime.fields(localSeconds: instant + offset)
        var text = "\(pad(t.year, 4))-\(pad(t.month))-\(pad(t.day))T\(pad(t.hour)):\(pad(t.minute)):\(pad(t.second))"
        let magnitude = abs(offset)
        text += "\(offset < 0 ? "-" : "+")\(pad(magnitude / 3600)):\(pad(magnitude % 3600 / 60))"
        if magnitude % 60 != 0 { text += ":\(pad(magnitude % 60))" }
        return text
    }

    /// Parses `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by `Z` or an offset (`+02:00`, `+0200`, `+02`).
    ///
    /// `T` may also be `t` or a space, and `Z` may be `z`. A time without an offset is refused:
    /// it would be ambiguous.
    public static func parseISO8601(_ text: String) -> Date? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(4), scanner.skip("-"), let month = scanner.digits(2), scanner.skip("-"),
            let day = scanner.digits(2), scanner.skip(anyOf: "Tt "),
            let hour = scanner.digits(2), scanner.skip(":"), let minute = scanner.digits(2)
        else { return nil }
        var second = 0
        var fraction = 0.0
        if scanner.skip(":") {
            guard let s = scanner.digits(2) else { return nil }
            second = s
            if scanner.skip(anyOf: ".,") {
                guard let (value, count) = scanner.fractionDigits() else { return nil }
                fraction = Double(value) / pow(10, Double(count))
            }
        }
        guard (1...12).contains(month), (1...CivilTime.daysInMonth(year: year, month: month)).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }

        let offset: Int
        if scanner.skip(anyOf: "Zz") {
            offset = 0
        } else if let sign = scanner.sign() {
            guard let hours = scanner.digits(2), hours <= 23 else { return nil }
            var minutes = 0
            if scanner.skip(":") {
                guard let m = scanner.digits(2) else { return nil }
                minutes = m
            } else if let m = scanner.digits(2) {
                minutes = m
            }
            guard minutes <= 59 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard scanner.atEnd else { return nil }

        let local =
            CivilTime.days(year: year, month: month, day: day) * CivilTime.secondsPerDay
            + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(local - offset) + fraction)
    }

    private static func pad(_ value: Int, _ width: Int = 2) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// A cursor over ASCII bytes.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func skip(_ character: Character) -> Bool {
            skip(anyOf: String(character))
        }

        mutating func skip(anyOf characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }

        /// Exactly `count` decimal digits.
        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }

        /// One or more digits after a decimal point, keeping at most nine.
        mutating func fractionDigits() -> (value: Int, count: Int)? {
            var value = 0
            var count = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                if count < 9 {
                    value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                    count += 1
                }
                index += 1
            }
            return count == 0 ? nil : (value, count)
        }

        mutating func sign() -> Int? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }
    }
}
