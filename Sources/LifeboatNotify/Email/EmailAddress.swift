import Foundation

/// A mailbox: an address (`pbx@example.com`) and an optional display name (`PBX`).
///
/// The address check is simple and strict: `local@domain`, ASCII only, at most 254 characters; the
/// local part is a dot-atom (letters, digits and ``EmailAddress/localCharacters``, no leading,
/// trailing or double dots, at most 64 characters); the domain is dot-separated labels of letters,
/// digits and hyphens (no label starts or ends with a hyphen, at most 63 characters each). Quoted
/// local parts, comments, address literals and internationalised addresses are refused: none of
/// them is needed to reach an operator, and each is a way to smuggle syntax into the SMTP envelope.
///
/// The display name may be any single line of text; it is quoted or RFC 2047-encoded when the
/// message is rendered.
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    /// `local@domain`.
    public let address: String
    /// Shown by mail clients instead of the address; nil for none.
    public let displayName: String?

    /// The characters besides ASCII letters and digits allowed in the local part (RFC 5322 atext).
    public static let localCharacters = Set("!#$%&'*+-/=?^_`{|}~".utf8)

    /// Checks `address` and `displayName`; throws ``EmailError`` naming `field` when either is unusable.
    public init(_ address: String, displayName: String? = nil, field: String = "address") throws(EmailError) {
        try Self.validate(address, field: field)
        if let displayName {
            try EmailError.rejectControlCharacters(in: displayName, field: field + " display name")
        }
        self.address = address
        let trimmed = displayName?.trimmingCharacters(in: .whitespaces)
        self.displayName = trimmed?.isEmpty == false ? trimmed : nil
    }

    /// Parses `pbx@example.com`, `PBX <pbx@example.com>` or `"PBX, Berlin" <pbx@example.com>` (the
    /// form of the configuration's `from`).
    public init(parsing text: String, field: String = "address") throws(EmailError) {
        try EmailError.rejectControlCharacters(in: text, field: field)
        let text = text.trimmingCharacters(in: .whitespaces)
        guard let open = text.lastIndex(of: "<") else {
            try self.init(text, field: field)
            return
        }
        guard text.hasSuffix(">"), text.firstIndex(of: ">") == text.index(before: text.endIndex) else {
            throw EmailError(
                field: field,
                "\(EmailError.quoted(text)) is not an address: write local@domain or Name <local@domain>")
        }
        let address = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        var name = String(text[..<open]).trimmingCharacters(in: .whitespaces)
        if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") {
            name = Self.unquote(String(name.dropFirst().dropLast()))
        } else if name.contains("<") || name.contains("\"") {
            throw EmailError(
                field: field,
                "\(EmailError.quoted(text)) is not an address: a display name with < or \" must be in double quotes")
        }
        try self.init(address, displayName: name, field: field)
    }

    /// `Name <local@domain>` or `local@domain`, for logs and messages (not a header encoding).
    public var description: String {
        guard let displayName else { return address }
        return "\(displayName) <\(address)>"
    }

    /// Throws when `address` is not a plain `local@domain` address (see the type's documentation).
    public static func validate(_ address: String, field: String = "address") throws(EmailError) {
        try EmailError.rejectControlCharacters(in: address, field: field)
        func refuse(_ why: String) -> EmailError {
            EmailError(field: field, "\(EmailError.quoted(address)) is not a valid address: \(why)")
        }
        let bytes = Array(address.utf8)
        guard !bytes.isEmpty else { throw refuse("it is empty") }
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            throw refuse("only ASCII addresses are supported (write the domain in its xn-- form)")
        }
        guard !bytes.contains(0x20) else { throw refuse("it contains a space") }
        guard !bytes.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) else {
            throw refuse(
                "it contains < or > (give the bare address, or Name <address> where a display name is allowed)")
        }
        guard bytes.count <= 254 else { throw refuse("it is longer than 254 characters") }
        let parts = bytes.split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw refuse("it must contain exactly one @") }
        let local = parts[0]
        let domain = parts[1]

        guard !local.isEmpty, local.count <= 64 else { throw refuse("the part before @ must be 1 to 64 characters") }
        for atom in local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !atom.isEmpty else { throw refuse("the part before @ has a leading, trailing or double dot") }
            guard atom.allSatisfy({ isAlphanumeric($0) || localCharacters.contains($0) }) else {
                throw refuse("the part before @ may hold only letters, digits and !#$%&'*+-/=?^_`{|}~.")
            }
        }

        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard !domain.isEmpty, labels.allSatisfy({ !$0.isEmpty }) else {
            throw refuse("the domain after @ is empty or has an empty label")
        }
        for label in labels {
            guard label.count <= 63,
                label.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") }),
                label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
            else {
                throw refuse(
                    "the domain after @ must be labels of letters, digits and inner hyphens, separated by dots")
            }
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// The content of a quoted-string with its backslash escapes resolved.
    private static func unquote(_ quoted: String) -> String {
        var result = ""
        var escaped = false
        for character in quoted {
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}
