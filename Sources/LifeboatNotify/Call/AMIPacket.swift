import Foundation

/// One Asterisk Manager Interface message: `Key: Value` lines, each ended by CRLF, and an empty
/// line after the last. Actions go to Asterisk; responses and events come back.
///
/// Keys are matched without regard to case, as Asterisk does. A key may repeat (`Variable`).
public struct AMIPacket: Sendable, Equatable, CustomStringConvertible {
    /// One `Key: Value` line.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var fields: [Field]

    public init(_ fields: [Field] = []) {
        self.fields = fields
    }

    /// The value of the first field called `name` (any case), or nil.
    public subscript(name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    /// Adds a field at the end.
    public mutating func append(_ name: String, _ value: String) {
        fields.append(Field(name, value))
    }

    /// Whether `value` can go into a packet: no CR, LF or NUL, which would end the line (or the
    /// packet) early and let the rest be read as other fields or another action.
    public static func isSafeValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// The packet on the wire; nil when a name or value holds a line break (or a name a colon), so
    /// that nothing is ever sent that Asterisk would read differently.
    public func encoded() -> [UInt8]? {
        var out: [UInt8] = []
        for field in fields {
            guard Self.isSafeValue(field.name), Self.isSafeValue(field.value), !field.name.isEmpty,
                !field.name.contains(":")
            else { return nil }
            out += Array(field.name.utf8) + [UInt8(ascii: ":"), UInt8(ascii: " ")] + Array(field.value.utf8)
            out += [0x0D, 0x0A]
        }
        return out + [0x0D, 0x0A]
    }

    /// The first field whose value is not safe to send, for error messages.
    var unsafeFieldName: String? {
        fields.first { !Self.isSafeValue($0.value) || !Self.isSafeValue($0.name) || $0.name.contains(":") }
            .map { Self.isSafeValue($0.name) ? $0.name : "a field name" }
    }

    /// The fields, one `Key: Value` per line, with a `Secret` shown as `<redacted>`.
    public var description: String {
        fields.map { field in
            field.name.lowercased() == "secret" ? "\(field.name): <redacted>" : "\(field.name): \(field.value)"
        }.joined(separator: "\n")
    }

    /// Parses one received line: `Key: Value` (spaces after the colon are skipped, as Asterisk
    /// does); nil for a line without a colon.
    static func field(fromLine line: String) -> Field? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
        var value = line[line.index(after: colon)...]
        while value.first == " " || value.first == "\t" { value = value.dropFirst() }
        guard !name.isEmpty else { return nil }
        return Field(name, String(value))
    }
}
