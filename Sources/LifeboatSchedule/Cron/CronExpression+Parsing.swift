extension CronExpression {
    /// Parses one field: a comma-separated list of `*`, `v`, `a-b`, each with an optional `/step`.
    static func parseField(_ text: Substring, as field: CronField, in expression: String) throws(CronError)
        -> CronValueSet
    {
        func fail(_ reason: String) -> CronError {
            CronError(code: .invalidField, input: expression, field: field, fieldText: String(text), reason: reason)
        }

        let bounds = field.bounds
        var set = CronValueSet()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if item.isEmpty {
                throw fail("empty item in the list")
            }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw fail("\"\(item)\" has more than one step")
            }
            var step = 1
            if parts.count == 2 {
                let stepText = parts[1]
                guard !stepText.isEmpty, stepText.allSatisfy(\.isASCIIDigit), stepText.count <= 9,
                    let value = Int(stepText)
                else {
                    throw fail("step \"\(stepText)\" in \"\(item)\" is not a positive number")
                }
                guard (1...bounds.upperBound).contains(value) else {
                    throw fail("step \(value) in \"\(item)\" is out of range 1-\(bounds.upperBound)")
                }
                step = value
            }

            let base = parts[0]
            let low: Int
            let high: Int
            if base == "*" {
                (low, high) = (bounds.lowerBound, bounds.upperBound)
            } else if base.contains("-") {
                let ends = base.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty else {
                    throw fail("\"\(base)\" is not a range of the form start-end")
                }
                low = try value(ends[0], of: field, fail: fail)
                high = try value(ends[1], of: field, fail: fail)
                guard low <= high else {
                    throw fail("range \"\(base)\" is reversed: its start \(low) is after its end \(high)")
                }
            } else {
                low = try value(base, of: field, fail: fail)
                // Vixie cron reads `5/10` as `5-<last>/10`.
                high = parts.count == 2 ? bounds.upperBound : low
            }
            for value in stride(from: low, through: high, by: step) {
                set.insert(value)
            }
        }
        return set
    }

    private static func value(_ text: Substring, of field: CronField, fail: (String) -> CronError) throws(CronError)
        -> Int
    {
        let bounds = field.bounds
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit) {
            guard text.count <= 9, let number = Int(text), bounds.contains(number) else {
                throw fail("\(text) is out of range \(bounds.lowerBound)-\(bounds.upperBound)")
            }
            return number
        }
        if let named = field.names[text.lowercased()] {
            return named
        }
        throw fail("\"\(text)\" is not \(field.expectedValue)")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
