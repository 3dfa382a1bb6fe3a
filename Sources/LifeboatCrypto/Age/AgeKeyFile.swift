import Foundation

/// Identity and recipient files in the formats of `age-keygen` and `age -R`.
public enum AgeKeyFile {
    /// Parses an identity file as age-keygen writes it: "# created: …", "# public key: age1…",
    /// "AGE-SECRET-KEY-1…"; blank lines and # comments ignored; several keys allowed.
    ///
    /// Throws `AgeError(.invalidKey)` naming the line number of a bad line (never its content),
    /// or when the file holds no key.
    public static func parseIdentities(_ text: String) throws -> [AgeX25519Identity] {
        var identities: [AgeX25519Identity] = []
        for (index, line) in lines(text) {
            do {
                identities.append(try AgeX25519Identity(parsing: line))
            } catch let error as AgeError {
                throw AgeError(.invalidKey, "identity file line \(index): \(error.message)")
            }
        }
        guard !identities.isEmpty else {
            throw AgeError(.invalidKey, "the identity file contains no AGE-SECRET-KEY-1… line")
        }
        return identities
    }

    /// Parses a recipients file (one age1… per line, # comments, blank lines).
    ///
    /// Throws `AgeError(.invalidKey)` naming the line number of a bad line, or when the file holds
    /// no recipient.
    public static func parseRecipients(_ text: String) throws -> [AgeX25519Recipient] {
        var recipients: [AgeX25519Recipient] = []
        for (index, line) in lines(text) {
            do {
                recipients.append(try AgeX25519Recipient(parsing: line))
            } catch let error as AgeError {
                throw AgeError(.invalidKey, "recipients file line \(index): \(error.message)")
            }
        }
        guard !recipients.isEmpty else {
            throw AgeError(.invalidKey, "the recipients file contains no age1… line")
        }
        return recipients
    }

    /// The text age-keygen would write for this identity: created line in RFC 3339 UTC, public
    /// key comment, key line, trailing newline.
    public static func render(_ identity: AgeX25519Identity, created: Date) -> String {
        """
        # created: \(rfc3339UTC(created))
        # public key: \(identity.recipient.encoded)
        \(identity.encoded)

        """
    }

    /// Non-blank, non-comment lines with their 1-based numbers, surrounding whitespace (and a CR of
    /// CRLF files) removed.
    private static func lines(_ text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            result.append((offset + 1, line))
        }
        return result
    }

    private static func rfc3339UTC(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04ld-%02ld-%02ldT%02ld:%02ld:%02ldZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
