import Foundation

extension MaintenanceWindow {
    /// Parses a window as the configuration writes it:
    /// `window: {days: [sat, sun], start: "02:00", end: "05:00", timezone: Europe/Berlin}`.
    ///
    /// - Parameters:
    ///   - days: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun` (or the full English names), any case;
    ///     at least one. A window belongs to the day it opens on.
    ///   - start: `HH:MM` (or `H:MM`), 00:00 to 23:59, on the zone's clock.
    ///   - end: `HH:MM`; at or before `start` means the next day (22:00 to 04:00 crosses midnight).
    ///     Equal to `start` is refused.
    ///   - timezone: an IANA time zone identifier such as `Europe/Berlin` or `UTC`.
    /// - Throws: `FirmwareError` with code `.invalidWindow`, naming the setting
    ///   (`firmware.window.start`) and the value that is wrong.
    public init(days: [String], start: String, end: String, timezone: String) throws {
        var parsed = Set<Day>()
        for text in days {
            guard let day = Day(parsing: text) else {
                throw FirmwareError(
                    .invalidWindow,
                    "firmware.window.days: \"\(Self.shown(text))\" is not a day; use mon, tue, wed, thu, fri, sat "
                        + "or sun")
            }
            parsed.insert(day)
        }
        let startMinute = try Self.minute(of: start, setting: "firmware.window.start")
        let endMinute = try Self.minute(of: end, setting: "firmware.window.end")
        let trimmed = timezone.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, let zone = TimeZone(identifier: trimmed) else {
            throw FirmwareError(
                .invalidWindow,
                "firmware.window.timezone \"\(Self.shown(timezone))\" is not a known IANA time zone such as "
                    + "Europe/Berlin or UTC")
        }
        try self.init(days: parsed, startMinute: startMinute, endMinute: endMinute, timeZone: zone)
    }

    /// Minutes after midnight of `H:MM` or `HH:MM` (00:00 to 23:59).
    static func minute(of text: String, setting: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        func digits(_ part: Substring, count: ClosedRange<Int>) -> Int? {
            guard count.contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(part)
        }
        guard parts.count == 2, let hours = digits(parts[0], count: 1...2),
            let minutes = digits(parts[1], count: 2...2),
            hours < 24, minutes < 60
        else {
            throw FirmwareError(
                .invalidWindow,
                "\(setting) \"\(shown(text))\" is not a time of day HH:MM from 00:00 to 23:59 (quote it in YAML: "
                    + "\"02:00\")")
        }
        return hours * 60 + minutes
    }

    /// A value as quoted in an error: at most 40 characters.
    private static func shown(_ text: String) -> String {
        text.count > 40 ? String(text.prefix(40)) + "…" : text
    }
}

extension MaintenanceWindow.Day {
    /// `mon` … `sun` or `monday` … `sunday`, any case, surrounding spaces ignored.
    public init?(parsing text: String) {
        let name = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard
            let day = Self.allCases.first(where: {
                name == $0.description || name == $0.fullName
            })
        else { return nil }
        self = day
    }

    /// `monday` … `sunday`.
    var fullName: String {
        switch self {
        case .mon: "monday"
        case .tue: "tuesday"
        case .wed: "wednesday"
        case .thu: "thursday"
        case .fri: "friday"
        case .sat: "saturday"
        case .sun: "sunday"
        }
    }
}
