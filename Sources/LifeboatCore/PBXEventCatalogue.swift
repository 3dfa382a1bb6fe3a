/// The PBX events Lifeboat knows by name: Yeastar's event-notification catalogue, as `pbx.` types
/// with a title and a default level.
///
/// Yeastar documents the events and three levels (information, warning, alert) but lets each PBX
/// choose the level of each event; the defaults here follow Yeastar's definitions of the levels:
/// `alert` when someone must act now (a break-in attempt, toll fraud, a trunk down, an emergency
/// call, a failing disk), `warning` when something is not right yet, `information` otherwise.
/// A sender may always give a level of its own; other well-formed types are accepted too.
public enum PBXEventCatalogue {
    public struct Entry: Sendable, Hashable {
        /// The type id, `pbx.` and the title in snake case.
        public var type: String
        /// Yeastar's name for the event.
        public var title: String
        public var level: EventLevel
    }

    public static let entries: [Entry] = [
        .init(type: "pbx.extension_registration_blocked_out", title: "Extension Registration Blocked Out", level: .alert),
        .init(type: "pbx.web_user_locked_out", title: "Web User Locked Out", level: .alert),
        .init(type: "pbx.linkus_user_blocked_out", title: "Linkus User Blocked Out", level: .warning),
        .init(type: "pbx.auto_defense_ip_blocked_out", title: "Auto Defense IP Blocked Out", level: .warning),
        .init(type: "pbx.outbound_call_frequency_exceeded", title: "Outbound Call Frequency Exceeded", level: .alert),
        .init(
            type: "pbx.outbound_call_to_disallowed_country", title: "Outbound Call to a Disallowed Country",
            level: .alert),
        .init(type: "pbx.sip_trunk_registration_failed", title: "SIP Trunk Registration Failed", level: .alert),
        .init(type: "pbx.sip_trunk_reregistered", title: "SIP Trunk Re-registered", level: .information),
        .init(type: "pbx.emergency_call_dialed_out", title: "Emergency Call Dialed Out", level: .alert),
        .init(type: "pbx.cpu_overload", title: "CPU Overload", level: .warning),
        .init(type: "pbx.memory_overload", title: "Memory Overload", level: .warning),
        .init(type: "pbx.storage_device_failure", title: "Storage Device Failure", level: .alert),
        .init(type: "pbx.insufficient_storage", title: "Insufficient Storage", level: .warning),
        .init(type: "pbx.web_user_login_failed", title: "Web User Login Failed", level: .warning),
        .init(type: "pbx.administrator_login_success", title: "Administrator Login Success", level: .information),
        .init(type: "pbx.administrator_password_changed", title: "Administrator Password Changed", level: .warning),
    ]

    /// The entry for `type`, or nil for a type outside the catalogue.
    public static func entry(for type: String) -> Entry? { entries.first { $0.type == type } }
}
