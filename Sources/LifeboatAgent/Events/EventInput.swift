import Foundation
import LifeboatCore

/// An event as a sender gives it (`lifeboat notify`, `POST /v1/events`), checked before it is recorded.
///
/// The same limits hold on every way in: a well-formed type, a known level, at most 64 attributes
/// with keys of `a-z 0-9 _ . -` and values up to 4096 bytes, a message up to 4096 bytes, a source
/// of 1 to 64 characters. An error names the field that is wrong.
public struct EventInput: Sendable {
    public var type: String
    /// Nil for a type of the PBX catalogue, which has a default level (`PBXEventCatalogue`).
    public var level: String?
    public var attributes: [(key: String, value: String)]
    public var message: String?
    public var source: String
    /// A sender's own id, so that a retried request records the event once (`[A-Za-z0-9_.:-]{1,128}`).
    public var id: String?

    public static let maximumAttributes = 64
    public static let maximumValueLength = 4096

    /// A field that is wrong, and why.
    public struct Problem: Error, Sendable {
        public enum Field: String, Sendable {
            case type, level, attributes, message, source, id
        }
        public var field: Field
        /// The attribute concerned, for `attributes`.
        public var key: String?
        public var reason: String
    }

    public init(
        type: String, level: String?, attributes: [(key: String, value: String)] = [], message: String? = nil,
        source: String, id: String? = nil
    ) {
        self.type = type
        self.level = level
        self.attributes = attributes
        self.message = message
        self.source = source
        self.id = id
    }

    /// The event, stamped `now`; throws `Problem` for the first field that is wrong.
    public func event(now: Date) throws(Problem) -> Event {
        guard Event.isWellFormedType(type) else {
            throw Problem(
                field: .type, reason: "'\(type)' is not an event type (lower-case dotted words: backup.failed, pbx.cpu_overload)")
        }
        guard let level = level ?? PBXEventCatalogue.entry(for: type)?.level.rawValue else {
            throw Problem(
                field: .level,
                reason: "missing: give one of \(EventLevel.allCases.map(\.rawValue).joined(separator: ", ")) (only the PBX catalogue's types have a default)")
        }
        guard let eventLevel = EventLevel(rawValue: level) else {
            throw Problem(
                field: .level,
                reason: "expected one of \(EventLevel.allCases.map(\.rawValue).joined(separator: ", ")), not '\(level)'")
        }
        guard attributes.count <= Self.maximumAttributes else {
            throw Problem(field: .attributes, reason: "at most \(Self.maximumAttributes) attributes")
        }
        var parsed: [String: String] = [:]
        for (key, value) in attributes {
            guard !key.isEmpty, key.utf8.count <= 64, key.utf8.allSatisfy(Self.isKeyByte) else {
                throw Problem(field: .attributes, key: key, reason: "a key may hold only a-z, 0-9, '_', '.' and '-' (at most 64)")
            }
            guard value.utf8.count <= Self.maximumValueLength else {
                throw Problem(field: .attributes, key: key, reason: "the value is longer than \(Self.maximumValueLength) bytes")
            }
            guard parsed[key] == nil else { throw Problem(field: .attributes, key: key, reason: "given twice") }
            parsed[key] = value
        }
        if let message, message.utf8.count > Self.maximumValueLength {
            throw Problem(field: .message, reason: "longer than \(Self.maximumValueLength) bytes")
        }
        guard !source.isEmpty, source.utf8.count <= 64 else {
            throw Problem(field: .source, reason: "give 1 to 64 characters")
        }
        if let id {
            guard !id.isEmpty, id.utf8.count <= 128, id.utf8.allSatisfy({ Self.isKeyByte($0) || $0 == 0x3A || (0x41...0x5A).contains($0) })
            else {
                throw Problem(field: .id, reason: "give 1 to 128 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'")
            }
        }
        return Event(
            id: id ?? Event.newID(at: now), type: type, level: eventLevel, time: now, source: source, attributes: parsed,
            message: message)
    }

    private static func isKeyByte(_ b: UInt8) -> Bool {
        b == 0x5F || b == 0x2E || b == 0x2D || (0x30...0x39).contains(b) || (0x61...0x7A).contains(b)
    }
}
