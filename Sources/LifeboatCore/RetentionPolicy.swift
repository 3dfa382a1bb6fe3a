import Foundation

/// Which snapshots to keep: restic's vocabulary plus Yeastar's count and age limits.
///
/// A snapshot is kept when any `keep_*` rule keeps it (restic's semantics: each bucket rule keeps the
/// newest snapshot of each of the N most recent hours, days, … that have one). `max_count` and
/// `max_age_days` then cap what is kept, oldest first. With no `keep_*` rule, everything is kept up to
/// the caps. The newest snapshot is always kept.
public struct RetentionPolicy: Sendable, Equatable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var keepWeekly: Int?
    public var keepMonthly: Int?
    public var keepYearly: Int?
    /// Seconds, measured back from the newest snapshot.
    public var keepWithin: Int64?
    public var maxCount: Int?
    public var maxAgeDays: Int?

    public init(
        keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil,
        keepMonthly: Int? = nil, keepYearly: Int? = nil, keepWithin: Int64? = nil, maxCount: Int? = nil,
        maxAgeDays: Int? = nil
    ) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithin = keepWithin
        self.maxCount = maxCount
        self.maxAgeDays = maxAgeDays
    }

    /// True when no rule is set: nothing is ever deleted.
    public var isEmpty: Bool { self == RetentionPolicy() }

    private var hasKeepRules: Bool {
        keepLast != nil || keepHourly != nil || keepDaily != nil || keepWeekly != nil || keepMonthly != nil
            || keepYearly != nil || keepWithin != nil
    }

    /// One snapshot as retention sees it.
    public struct Item: Sendable, Hashable {
        public var id: SnapshotID
        public var created: Date
        public init(id: SnapshotID, created: Date) {
            self.id = id
            self.created = created
        }
    }

    /// The verdict on one snapshot, with the reasons.
    public struct Decision: Sendable, Equatable {
        public var item: Item
        public var keep: Bool
        public var reasons: [String]
    }

    /// Decides for every item; `now` anchors `max_age_days`; `calendar` gives the buckets' time zone.
    public func apply(to items: [Item], now: Date, calendar: Calendar = .current) -> [Decision] {
        let sorted = items.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
        guard let newest = sorted.first else { return [] }
        var reasons: [SnapshotID: [String]] = [:]
        func keep(_ item: Item, _ reason: String) { reasons[item.id, default: []].append(reason) }

        if !hasKeepRules {
            for item in sorted { keep(item, "no keep rule") }
        }
        if let n = keepLast {
            for item in sorted.prefix(n) { keep(item, "keep_last \(n)") }
        }
        if let within = keepWithin {
            let limit = newest.created.addingTimeInterval(-TimeInterval(within))
            for item in sorted where item.created >= limit {
                keep(item, "keep_within \(DurationText.render(within))")
            }
        }
        let buckets: [(String, Int?, (Date) -> String)] = [
            ("hourly", keepHourly, { Self.bucket(calendar, $0, [.year, .month, .day, .hour]) }),
            ("daily", keepDaily, { Self.bucket(calendar, $0, [.year, .month, .day]) }),
            ("weekly", keepWeekly, { Self.bucket(calendar, $0, [.yearForWeekOfYear, .weekOfYear]) }),
            ("monthly", keepMonthly, { Self.bucket(calendar, $0, [.year, .month]) }),
            ("yearly", keepYearly, { Self.bucket(calendar, $0, [.year]) }),
        ]
        for (name, count, key) in buckets {
            guard let count, count > 0 else { continue }
            var seen = Set<String>()
            for item in sorted {
                let k = key(item.created)
                if seen.contains(k) { continue }
                if seen.count >= count { break }
                seen.insert(k)
                keep(item, "keep_\(name) \(count) (\(k))")
            }
        }

        var kept = sorted.filter { reasons[$0.id] != nil }
        var capped: [SnapshotID: String] = [:]
        if let days = maxAgeDays {
            let limit = now.addingTimeInterval(-TimeInterval(days) * 86_400)
            for item in kept where item.created < limit {
                capped[item.id] = "older than max_age_days \(days)"
            }
            kept.removeAll { capped[$0.id] != nil }
        }
        if let maxCount, kept.count > max(maxCount, 1) {
            for item in kept.dropFirst(max(maxCount, 1)) {
                capped[item.id] = "beyond max_count \(maxCount)"
            }
            kept.removeAll { capped[$0.id] != nil }
        }
        if reasons[newest.id] == nil || capped[newest.id] != nil {
            capped[newest.id] = nil
            reasons[newest.id] = ["newest snapshot"]
        }

        return sorted.map { item in
            if let cap = capped[item.id] {
                return Decision(item: item, keep: false, reasons: [cap])
            }
            if let r = reasons[item.id] {
                return Decision(item: item, keep: true, reasons: r)
            }
            return Decision(item: item, keep: false, reasons: ["matched no keep rule"])
        }
    }

    private static func bucket(_ calendar: Calendar, _ date: Date, _ units: Set<Calendar.Component>) -> String {
        var calendar = calendar
        if units.contains(.weekOfYear) {
            // ISO 8601 weeks, as restic counts them: Monday first, week 1 holds 4 January.
            calendar.firstWeekday = 2
            calendar.minimumDaysInFirstWeek = 4
        }
        let c = calendar.dateComponents(units, from: date)
        if units.contains(.weekOfYear) {
            return String(format: "%04d-W%02d", c.yearForWeekOfYear ?? 0, c.weekOfYear ?? 0)
        }
        var s = String(format: "%04d", c.year ?? 0)
        if let m = c.month { s += String(format: "-%02d", m) }
        if let d = c.day { s += String(format: "-%02d", d) }
        if let h = c.hour { s += String(format: "T%02d", h) }
        return s
    }
}
