/// A firmware version: dotted numbers as PBX vendors use them (`37.12.0.44`, any number of
/// components), or a semantic version with pre-release and build metadata (`1.2.3-rc.1+build.5`).
///
/// Ordering follows SemVer 2.0.0 precedence, generalised to any number of numeric components:
/// - numeric components compare numerically, left to right; a missing component counts as 0, so
///   `37.12` < `37.12.0.1` and `37.12.0` == `37.12` (trailing zero components compare equal);
/// - a version with a pre-release is lower than the same version without one
///   (`1.0.0-rc.1` < `1.0.0`); pre-release identifiers compare left to right, numeric ones
///   numerically, alphanumeric ones in ASCII order, numeric lower than alphanumeric, and a shorter
///   list lower when all shared identifiers are equal;
/// - build metadata (`+…`) is kept in `text` but ignored for ordering and equality.
///
/// Accepted syntax: an optional leading `v`, one or more dot-separated decimal components (leading
/// zeros allowed, as in date-like versions, each at most 2^64 - 1), then optionally `-` and
/// dot-separated pre-release identifiers (`[0-9A-Za-z-]+`, numeric ones without leading zeros),
/// then optionally `+` and build identifiers (`[0-9A-Za-z-]+`). Surrounding white space is ignored.
public struct FirmwareVersion: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// A pre-release identifier.
    public enum Identifier: Sendable, Hashable, Comparable {
        case numeric(UInt64)
        case alphanumeric(String)

        public static func < (lhs: Identifier, rhs: Identifier) -> Bool {
            switch (lhs, rhs) {
            case (.numeric(let a), .numeric(let b)): a < b
            case (.numeric, .alphanumeric): true
            case (.alphanumeric, .numeric): false
            // ASCII order: the identifiers contain only ASCII, so byte order is ASCII order.
            case (.alphanumeric(let a), .alphanumeric(let b)): a.utf8.lexicographicallyPrecedes(b.utf8)
            }
        }
    }

    /// The longest version text accepted.
    public static let maximumLength = 256

    /// The version as written (without surrounding white space).
    public let text: String
    /// The numeric components: `[37, 12, 0, 44]`.
    public let components: [UInt64]
    /// The pre-release identifiers after `-`; empty for a release.
    public let preRelease: [Identifier]
    /// The build metadata identifiers after `+`; ignored for ordering.
    public let build: [String]

    /// Parses `text`; throws `FirmwareError` with code `.invalidVersion` saying what is wrong.
    public init(_ text: String) throws {
        let trimmed = text.trimmingWhitespace()
        func invalid(_ reason: String) -> FirmwareError {
            let shown = trimmed.count > 64 ? String(trimmed.prefix(64)) + "…" : trimmed
            return FirmwareError(
                .invalidVersion,
                "\"\(shown)\" is not a version: \(reason); expected dotted numbers (37.12.0.44) or a semantic "
                    + "version (1.2.3-rc.1+build.5)")
        }
        guard !trimmed.isEmpty else { throw invalid("it is empty") }
        guard trimmed.utf8.count <= Self.maximumLength else {
            throw invalid("it is longer than \(Self.maximumLength) characters")
        }
        var rest = Substring(trimmed)
        if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }

        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false)
                .map(String.init)
            rest = rest[..<plus]
            for identifier in build where !Self.isIdentifier(identifier) {
                throw invalid("the build metadata identifier \"\(identifier)\" is empty or not [0-9A-Za-z-]")
            }
        }
        var preRelease: [Identifier] = []
        if let dash = rest.firstIndex(of: "-") {
            for identifier in rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false) {
                guard Self.isIdentifier(identifier) else {
                    throw invalid("the pre-release identifier \"\(identifier)\" is empty or not [0-9A-Za-z-]")
                }
                if identifier.allSatisfy(\.isASCIIDigit) {
                    guard identifier == "0" || identifier.first != "0" else {
                        throw invalid("the numeric pre-release identifier \"\(identifier)\" has a leading zero")
                    }
                    guard let value = UInt64(identifier) else {
                        throw invalid("the pre-release identifier \"\(identifier)\" is too large")
                    }
                    preRelease.append(.numeric(value))
                } else {
                    preRelease.append(.alphanumeric(String(identifier)))
                }
            }
            rest = rest[..<dash]
        }
        var components: [UInt64] = []
        for component in rest.split(separator: ".", omittingEmptySubsequences: false) {
            guard !component.isEmpty, component.allSatisfy(\.isASCIIDigit) else {
                throw invalid("the component \"\(component)\" is not a decimal number")
            }
            guard let value = UInt64(component) else { throw invalid("the component \"\(component)\" is too large") }
            components.append(value)
        }
        self.text = trimmed
        self.components = components
        self.preRelease = preRelease
        self.build = build
    }

    public var description: String { text }

    public static func < (lhs: FirmwareVersion, rhs: FirmwareVersion) -> Bool {
        compare(lhs, rhs) < 0
    }

    /// Equal precedence: trailing zero components and build metadata do not matter.
    public static func == (lhs: FirmwareVersion, rhs: FirmwareVersion) -> Bool {
        compare(lhs, rhs) == 0
    }

    public func hash(into hasher: inout Hasher) {
        // Consistent with ==: trailing zeros dropped, build metadata left out.
        var significant = components[...]
        while significant.last == 0 { significant = significant.dropLast() }
        hasher.combine(Array(significant))
        hasher.combine(preRelease)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    /// -1, 0 or 1 as `lhs` has lower, equal or higher precedence than `rhs`.
    private static func compare(_ lhs: FirmwareVersion, _ rhs: FirmwareVersion) -> Int {
        for i in 0..<max(lhs.components.count, rhs.components.count) {
            let a = i < lhs.components.count ? lhs.components[i] : 0
            let b = i < rhs.components.count ? rhs.components[i] : 0
            if a != b { return a < b ? -1 : 1 }
        }
        switch (lhs.preRelease.isEmpty, rhs.preRelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false):
            for (a, b) in zip(lhs.preRelease, rhs.preRelease) where a != b {
                return a < b ? -1 : 1
            }
            if lhs.preRelease.count == rhs.preRelease.count { return 0 }
            return lhs.preRelease.count < rhs.preRelease.count ? -1 : 1
        }
    }

    private static func isIdentifier(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCIIDigit || $0.isASCIILetter || $0 == "-" }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
    fileprivate var isASCIILetter: Bool { isASCII && isLetter }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
