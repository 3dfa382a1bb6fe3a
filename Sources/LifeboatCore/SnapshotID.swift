/// The short random identifier of a snapshot: 8 lower-case hex digits.
public struct SnapshotID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// Accepts exactly 8 lower-case hex digits.
    public init?(_ text: String) {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ Self.isHexDigit($0) }) else { return nil }
        rawValue = text
    }

    /// A new random identifier.
    public static func generate() -> SnapshotID {
        var rng = SystemRandomNumberGenerator()
        let value = UInt32.random(in: .min ... .max, using: &rng)
        let hex = String(value, radix: 16)
        return SnapshotID(String(repeating: "0", count: 8 - hex.count) + hex)!
    }

    public var description: String { rawValue }

    public static func < (lhs: SnapshotID, rhs: SnapshotID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SnapshotID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a snapshot id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
    }
}
