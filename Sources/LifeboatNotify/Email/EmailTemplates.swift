import LifeboatCore

/// The relay's email templates: one per event type or family of types, and a fallback for the rest.
///
/// A key is an exact type (`backup.failed`) or a family (`pbx.*` matches `pbx.web_user_locked_out`
/// and every other type under `pbx.`). The exact type wins, then the longest matching family, then
/// ``fallback``.
public struct EmailTemplates: Sendable, Hashable {
    /// For types no key matches; ``EmailTemplate/standard`` unless configured.
    public var fallback: EmailTemplate
    /// Templates by exact type or `family.*`.
    public var byType: [String: EmailTemplate]

    public init(fallback: EmailTemplate = .standard, byType: [String: EmailTemplate] = [:]) {
        self.fallback = fallback
        self.byType = byType
    }

    /// The template for events of `type`.
    public func template(for type: String) -> EmailTemplate {
        if let exact = byType[type] { return exact }
        var family = Substring(type)
        while let dot = family.lastIndex(of: ".") {
            family = family[..<dot]
            if let template = byType[String(family) + ".*"] { return template }
        }
        return byType["*"] ?? fallback
    }

    /// `event` rendered with its type's template.
    public func render(_ event: Event, host: String) -> EmailTemplate.Rendered {
        template(for: event.type).render(event, host: host)
    }

    /// Keys that can never match (neither a well-formed type, nor `family.*`, nor `*`), and the
    /// unknown placeholders of each template (``EmailTemplate/unknownPlaceholders``), as sentences
    /// for the configuration check; empty when all is well.
    public var problems: [String] {
        var problems: [String] = []
        for key in byType.keys.sorted() {
            let pattern = key.hasSuffix(".*") ? String(key.dropLast(2)) : key
            if key != "*", !Event.isWellFormedType(pattern) {
                problems.append("template key '\(key)' is not an event type (backup.failed) or family (pbx.*)")
            }
        }
        for (key, template) in [("default", fallback)] + byType.sorted(by: { $0.key < $1.key }) {
            let unknown = template.unknownPlaceholders
            if !unknown.isEmpty {
                problems.append(
                    "template '\(key)' uses unknown placeholders: "
                        + unknown.map { "{{\($0)}}" }.joined(separator: ", ")
                        + " (known: "
                        + EmailTemplate.placeholderNames.sorted().map { "{{\($0)}}" }
                        .joined(separator: ", ") + ", {{attr.NAME}})")
            }
        }
        return problems
    }
}
