import Foundation

/// A stretch of time during which a zone's UTC offset does not change: instants `start ..< end`
/// (whole seconds since 1970) read on the wall clock as `instant + offset`.
struct ZoneSegment: Sendable, Hashable {
    var start: Int
    var end: Int
    var offset: Int

    /// The wall-clock (local) seconds this segment covers: `localStart ..< localEnd`.
    var localStart: Int { start + offset }
    var localEnd: Int { end + offset }
}

/// Splits time into `ZoneSegment`s using the zone's transitions.
struct ZoneSegments: Sendable {
    let timeZone: TimeZone

    func offset(at instant: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))
    }

    /// The segment that contains `instant`, cut off at `limit` (exclusive) and starting at `instant`.
    func segment(startingAt instant: Int, limit: Int) -> ZoneSegment {
        let offset = offset(at: instant)
        var end = limit
        if let next = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(instant))) {
            let seconds = next.timeIntervalSince1970.rounded(.up)
            if seconds < Double(limit) { end = max(instant + 1, Int(seconds)) }
        }
        // Foundation reports every offset change it knows of; should one be missing, find the first
        // instant with another offset by bisection so the segment's offset is right throughout.
        if end - 1 > instant, self.offset(at: end - 1) != offset {
            var same = instant
            var other = end - 1
            while other - same > 1 {
                let middle = same + (other - same) / 2
                if self.offset(at: middle) == offset { same = middle } else { other = middle }
            }
            end = other
        }
        return ZoneSegment(start: instant, end: end, offset: offset)
    }

    /// The segments from the one containing `from` up to `limit` (exclusive), in order.
    func segments(from: Int, limit: Int) -> some Sequence<ZoneSegment> {
        sequence(state: from) { start -> ZoneSegment? in
            guard start < limit else { return nil }
            let segment = segment(startingAt: start, limit: limit)
            start = segment.end
            return segment
        }
    }
}
