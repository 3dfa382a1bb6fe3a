import Foundation
import LifeboatCore

/// One notification email, checked when it is made and rendered as an RFC 5322 message.
///
/// The rendered message has CRLF line endings throughout and is 7-bit ASCII:
/// - `Date` (RFC 5322, in UTC: `Fri, 27 Nov 2026 01:02:03 +0000`), `From`, `To`, `Subject`,
///   `Message-ID`, `MIME-Version: 1.0`, `Content-Type: text/plain; charset=utf-8`,
///   `Content-Transfer-Encoding: quoted-printable`, `Auto-Submitted: auto-generated` (RFC 3834, so
///   that vacation responders stay quiet) and, for an event, `X-Lifeboat-Event: <type>`;
/// - a subject or display name that is not plain ASCII is written as RFC 2047 encoded-words, and
///   header lines are folded at spaces to at most 76 characters (a single address or Message-ID
///   longer than that gets a line of its own, still far below RFC 5322's 998);
/// - the body is quoted-printable (``QuotedPrintable``), so no line is longer than 76 characters.
///
/// Header injection is impossible: the initialiser throws ``EmailError`` for a line break or any
/// other control character in any header value (subject, addresses, display names, Message-ID,
/// event type), whatever the caller checked before. The body may hold any text.
public struct EmailMessage: Sendable, Hashable {
    public let from: EmailAddress
    public let to: [EmailAddress]
    public let subject: String
    /// The text; its line breaks (LF, CRLF or CR) are sent as CRLF. One line break at its end is
    /// implied: `"text"` and `"text\n"` are sent alike.
    public let body: String
    public let date: Date
    /// `<left@right>`: the same for every attempt to send one notification, so that a resent copy
    /// can be recognised (see ``makeMessageID(notificationID:domain:)``).
    public let messageID: String
    /// The event type for `X-Lifeboat-Event`, or nil (a digest of several events).
    public let eventType: String?

    /// Checks every header value; throws ``EmailError`` naming the field that is unusable.
    ///
    /// `messageID` may be given with or without its angle brackets.
    public init(
        from: EmailAddress, to: [EmailAddress], subject: String, body: String, date: Date, messageID: String,
        eventType: String? = nil
    ) throws(EmailError) {
        guard !to.isEmpty else { throw EmailError(field: "to", "a message needs at least one recipient") }
        try EmailError.rejectControlCharacters(in: subject, field: "subject")
        // Addresses and display names are checked by EmailAddress; checked again here because they
        // end up in headers, and a value type's invariants are only as good as its initialisers.
        for (field, mailbox) in [("from", from)] + to.map({ ("to", $0) }) {
            try EmailAddress.validate(mailbox.address, field: field)
            if let name = mailbox.displayName {
                try EmailError.rejectControlCharacters(in: name, field: field + " display name")
            }
        }
        if let eventType, !Event.isWellFormedType(eventType) {
            throw EmailError(
                field: "event type",
                "\(EmailError.quoted(eventType)) is not a lower-case dotted event type like backup.failed")
        }
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.date = date
        self.messageID = try Self.normalizedMessageID(messageID)
        self.eventType = eventType
    }

    /// A Message-ID for a notification: `<notificationID@domain>`, with every character of
    /// `notificationID` that a Message-ID cannot hold replaced by `-`. The same inputs give the same
    /// Message-ID, so a retried send carries the same one.
    public static func makeMessageID(notificationID: String, domain: String) throws(EmailError) -> String {
        var left = ""
        for byte in notificationID.utf8 {
            left.unicodeScalars.append(
                HeaderField.isAtext(byte) || byte == UInt8(ascii: ".") ? Unicode.Scalar(byte) : "-")
        }
        while left.hasPrefix(".") { left.removeFirst() }
        while left.hasSuffix(".") { left.removeLast() }
        left = left.replacingOccurrences(of: "..", with: ".-")
        return try normalizedMessageID("<\(left)@\(domain)>")
    }

    /// The recipients' addresses, for the SMTP envelope.
    public var recipientAddresses: [String] { to.map(\.address) }

    /// The message as sent: headers, an empty line, the quoted-printable body; CRLF line endings.
    public func render() -> [UInt8] {
        var text = ""
        text += "Date: \(Self.rfc5322Date(date))\r\n"
        text += Self.mailboxField("From", [from])
        text += Self.mailboxField("To", to)
        var subjectField = HeaderField("Subject")
        subjectField.appendText(subject)
        text += subjectField.rendered
        text += "Message-ID: \(messageID)\r\n"
        text += "MIME-Version: 1.0\r\n"
        text += "Content-Type: text/plain; charset=utf-8\r\n"
        text += "Content-Transfer-Encoding: quoted-printable\r\n"
        text += "Auto-Submitted: auto-generated\r\n"
        if let eventType { text += "X-Lifeboat-Event: \(eventType)\r\n" }
        text += "\r\n"
        var body = body
        // The last Character is the whole "\r\n" when the body ends with one.
        if let last = body.unicodeScalars.last, last == "\n" || last == "\r" { body.removeLast() }
        text += QuotedPrintable.encode(body) + "\r\n"
        return Array(text.utf8)
    }

    // MARK: Header values

    private static func mailboxField(_ name: String, _ mailboxes: [EmailAddress]) -> String {
        var field = HeaderField(name)
        for (index, mailbox) in mailboxes.enumerated() {
            let separator = index < mailboxes.count - 1 ? "," : ""
            if let displayName = mailbox.displayName {
                field.appendPhrase(displayName)
                field.appendWord("<\(mailbox.address)>" + separator)
            } else {
                field.appendWord(mailbox.address + separator)
            }
        }
        return field.rendered
    }

    /// `<left@right>` where both sides are dot-atoms (RFC 5322 section 3.6.4), at most 250 characters.
    static func normalizedMessageID(_ value: String) throws(EmailError) -> String {
        try EmailError.rejectControlCharacters(in: value, field: "message_id")
        var inner = Substring(value)
        if inner.hasPrefix("<") && inner.hasSuffix(">") && inner.count >= 2 { inner = inner.dropFirst().dropLast() }
        func refuse(_ why: String) -> EmailError {
            EmailError(field: "message_id", "\(EmailError.quoted(value)) is not a Message-ID like <id@host>: \(why)")
        }
        let parts = inner.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw refuse("it must hold exactly one @") }
        for part in parts {
            guard !part.isEmpty,
                part.utf8.allSatisfy({ HeaderField.isAtext($0) || $0 == UInt8(ascii: ".") }),
                !part.hasPrefix("."), !part.hasSuffix("."), !part.contains("..")
            else {
                throw refuse(
                    "each side of @ must be letters, digits, dots and !#$%&'*+-/=?^_`{|}~, without double dots")
            }
        }
        guard inner.utf8.count <= 250 else { throw refuse("it is longer than 250 characters") }
        return "<\(inner)>"
    }

    /// `Fri, 27 Nov 2026 01:02:03 +0000` (RFC 5322 section 3.3), in UTC.
    static func rfc5322Date(_ date: Date) -> String {
        let c = Timestamp.utcCalendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return days[c.weekday! - 1] + String(format: ", %02d ", c.day!) + months[c.month! - 1]
            + String(format: " %04d %02d:%02d:%02d +0000", c.year!, c.hour!, c.minute!, c.second!)
    }
}
