/// The values one cron field selects, as a bit set over 0...63.
struct CronValueSet: Sendable, Hashable {
    private(set) var bits: UInt64 = 0

    init() {}

    func contains(_ value: Int) -> Bool {
        (0..<64).contains(value) && bits & (1 << UInt64(value)) != 0
    }

    mutating func insert(_ value: Int) {
        precondition((0..<64).contains(value), "cron value \(value) outside 0..<64")
        bits |= 1 << UInt64(value)
    }

    mutating func remove(_ value: Int) {
        bits &= ~(1 << UInt64(value))
    }

    /// The smallest member that is at least `value`.
    func next(atOrAfter value: Int) -> Int? {
        if value >= 64 { return nil }
        let masked = value <= 0 ? bits : bits & (~0 << UInt64(value))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }

    /// The largest member that is at most `value`.
    func previous(atOrBefore value: Int) -> Int? {
        if value < 0 { return nil }
        let masked = value >= 63 ? bits : bits & ((1 << UInt64(value + 1)) - 1)
        return masked == 0 ? nil : 63 - masked.leadingZeroBitCount
    }

    var first: Int? { next(atOrAfter: 0) }
    var last: Int? { previous(atOrBefore: 63) }

    var members: [Int] { (0..<64).filter(contains) }
}
