import Foundation

/// One header field as it is written: `Name: value`, folded at spaces into lines of at most 76
/// characters (RFC 5322 section 2.2.3), with text that is not plain printable ASCII written as
/// RFC 2047 encoded-words (`=?utf-8?B?…?=`, each at most 75 characters, split only between
/// characters).
///
/// Callers pass values that were already checked for control characters (``EmailError``); the field
/// itself only ever writes printable ASCII, spaces and the CRLF + space of a fold.
struct HeaderField {
    /// The longest line, without its CRLF: the limit RFC 2047 sets for lines with encoded-words, and
    /// under RFC 5322's recommended 78.
    static let lineLimit = 76
    /// The longest encoded-word (RFC 2047 section 2).
    static let encodedWordLimit = 75
    private static let encodedWordOverhead = "=?utf-8?B?".utf8.count + "?=".utf8.count

    private var lines: [String]

    init(_ name: String) {
        lines = [name + ":"]
    }

    /// The field with its line breaks, ending in CRLF.
    var rendered: String { lines.joined(separator: "\r\n") + "\r\n" }

    private var currentLength: Int { lines[lines.count - 1].utf8.count }
    private var lineHoldsOnlyTheName: Bool { lines.count == 1 && !lines[0].contains(" ") }

    /// Appends a word that is never split (an address, a plain word, a quoted string) after a space:
    /// on the current line when it fits, else on a new folded line.
    mutating func appendWord(_ word: String) {
        if currentLength + 1 + word.utf8.count > Self.lineLimit, !lineHoldsOnlyTheName {
            lines.append(" " + word)
        } else {
            lines[lines.count - 1] += " " + word
        }
    }

    /// Appends unstructured text (a subject): as plain words when it is printable ASCII that folding
    /// preserves exactly, else as encoded-words.
    mutating func appendText(_ text: String) {
        guard !text.isEmpty else { return }
        if let words = plainWords(text, allowed: { $0 >= 0x21 && $0 <= 0x7E }) {
            for word in words { appendWord(word) }
        } else {
            appendEncoded(text)
        }
    }

    /// Appends a display name (an RFC 5322 phrase): plain words of atext, else one quoted-string when
    /// it is short printable ASCII, else encoded-words.
    mutating func appendPhrase(_ text: String) {
        guard !text.isEmpty else { return }
        if let words = plainWords(text, allowed: Self.isAtext) {
            for word in words { appendWord(word) }
            return
        }
        let printable = text.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
        if printable, !text.contains("=?") {
            var quoted = "\""
            for character in text {
                if character == "\"" || character == "\\" { quoted += "\\" }
                quoted.append(character)
            }
            quoted += "\""
            if quoted.utf8.count <= Self.encodedWordLimit {
                appendWord(quoted)
                return
            }
        }
        appendEncoded(text)
    }

    /// Appends `text` as UTF-8 B encoded-words: the first one sized to the room left on the current
    /// line, each further one on a folded line of its own.
    mutating func appendEncoded(_ text: String) {
        var room = min(Self.lineLimit - currentLength - 1, Self.encodedWordLimit)
        // Too little room for a word holding even one 4-byte character: start on a new line.
        var onNewLine = room < Self.encodedLength(4) && !lineHoldsOnlyTheName
        if onNewLine { room = Self.encodedWordLimit }
        var pending: [UInt8] = []
        func flush() {
            let word = " =?utf-8?B?" + Data(pending).base64EncodedString() + "?="
            if onNewLine { lines.append(word) } else { lines[lines.count - 1] += word }
            pending = []
            onNewLine = true
            room = Self.encodedWordLimit
        }
        for scalar in text.unicodeScalars {
            let count = UTF8.width(scalar)
            if !pending.isEmpty, Self.encodedLength(pending.count + count) > room { flush() }
            UTF8.encode(scalar) { pending.append($0) }
        }
        if !pending.isEmpty { flush() }
    }

    /// The length of a B encoded-word holding `byteCount` bytes.
    static func encodedLength(_ byteCount: Int) -> Int {
        encodedWordOverhead + (byteCount + 2) / 3 * 4
    }

    /// The words of `text` when it can be written as they are: only `allowed` bytes between single
    /// spaces, no leading or trailing space, nothing that looks like an encoded-word, and every word
    /// short enough to fit on a folded line.
    private func plainWords(_ text: String, allowed: (UInt8) -> Bool) -> [String]? {
        guard !text.contains("=?"), text.utf8.allSatisfy({ $0 == 0x20 || allowed($0) }) else { return nil }
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        guard words.allSatisfy({ !$0.isEmpty }) else { return nil }
        let firstRoom = Self.lineLimit - currentLength - 1
        for (index, word) in words.enumerated() {
            let room = index == 0 && lineHoldsOnlyTheName ? firstRoom : Self.lineLimit - 1
            guard word.utf8.count <= room else { return nil }
        }
        return words.map(String.init)
    }

    /// RFC 5322 atext: letters, digits and `!#$%&'*+-/=?^_`{|}~`.
    static func isAtext(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || EmailAddress.localCharacters.contains(byte)
    }
}
