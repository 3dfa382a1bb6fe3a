import Foundation

/// Reading values out of `JSONSerialization` results the way cloud APIs write them.
enum JSONField {
    /// A whole number written as a JSON number (`"size": 123`) or as a string (GCS's `"size": "123"`,
    /// older token endpoints' `"expires_in": "3599"`). There is no `is Bool` test: on Linux an
    /// NSNumber of 0 or 1 from JSONSerialization passes it, and a 1-byte object would read as none.
    static func int64(_ value: Any?) -> Int64? {
        if let text = value as? String { return Int64(text) }
        if let number = value as? NSNumber { return number.int64Value }
        return nil
    }
}
