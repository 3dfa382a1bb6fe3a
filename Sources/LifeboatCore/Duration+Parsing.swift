/// Parses durations written as `36h`, `30s`, `7d`, `2w`, `1h30m`, `90m`.
public enum DurationText {
    /// The number of seconds, or nil when the text is not a duration.
    public static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000]
        var total: Int64 = 0
        var number: Int64? = nil
        var sawUnit = false
        for ch in text {
            if let digit = ch.wholeNumberValue, ch.isASCII {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(digit))
                if o1 || o2 { return nil }
                number = a
            } else if let unit = units[ch], let n = number {
                let (p, o) = n.multipliedReportingOverflow(by: unit)
                if o { return nil }
                total += p
                number = nil
                sawUnit = true
            } else {
                return nil
            }
        }
        guard number == nil, sawUnit else { return nil }
        return total
    }

    /// Renders seconds compactly: `1d12h`, `45s`.
    public static func render(_ seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var out = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}
