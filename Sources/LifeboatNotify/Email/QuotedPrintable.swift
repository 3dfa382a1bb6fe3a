/// The quoted-printable content transfer encoding of RFC 2045 section 6.7, for UTF-8 text bodies.
///
/// - Every line break of the text (CRLF, CR or LF) becomes a CRLF hard line break.
/// - Printable ASCII (33-126) except `=` stays as it is; `=` and every other byte become `=XX`
///   (upper-case hex), so the output is 7-bit ASCII.
/// - Spaces and tabs stay, except at the end of a line, where they are encoded (`=20`, `=09`): a
///   transport may strip trailing whitespace.
/// - Lines are at most 76 characters: longer ones get soft line breaks (`=` at the end of the line).
///   A soft break never falls inside an `=XX`, nor between the bytes of one UTF-8 character.
/// - `From ` at the start of a line has its `F` encoded, so that mbox files do not mangle it.
enum QuotedPrintable {
    /// The longest encoded line, without its CRLF (RFC 2045).
    static let lineLimit = 76

    /// `text` encoded, lines separated by CRLF, with no line break after the last line.
    static func encode(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        var first = true
        for line in lines(of: text) {
            if !first { output += "\r\n" }
            first = false
            encodeLine(line, into: &output)
        }
        return output
    }

    /// The lines of `text`, split at CRLF, CR and LF.
    static func lines(of text: String) -> [Substring.UnicodeScalarView] {
        var result: [Substring.UnicodeScalarView] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\r" || scalar == "\n" {
                result.append(scalars[start..<index])
                var next = scalars.index(after: index)
                if scalar == "\r", next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                index = next
            } else {
                index = scalars.index(after: index)
            }
        }
        result.append(scalars[start..<scalars.endIndex])
        return result
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func encodeLine(_ line: Substring.UnicodeScalarView, into output: inout String) {
        var column = 0
        var index = line.startIndex
        let fromPrefix = line.starts(with: "From ".unicodeScalars)
        while index < line.endIndex {
            let scalar = line[index]
            let next = line.index(after: index)
            let isLast = next == line.endIndex
            let token = self.token(
                for: scalar, isLast: isLast, forceEncoding: fromPrefix && index == line.startIndex)
            // A character that is not the last must leave room for the `=` of a soft break after it.
            let limit = isLast ? lineLimit : lineLimit - 1
            if column > 0, column + token.count > limit {
                output += "=\r\n"
                column = 0
            }
            output += token
            column += token.count
            index = next
        }
    }

    /// The encoded form of one character (one to four `=XX` for a non-ASCII one).
    private static func token(for scalar: Unicode.Scalar, isLast: Bool, forceEncoding: Bool) -> String {
        let value = scalar.value
        let literal =
            !forceEncoding
            && ((value >= 33 && value <= 126 && value != 61) || ((value == 32 || value == 9) && !isLast))
        if literal { return String(Character(scalar)) }
        var token = ""
        UTF8.encode(scalar) { byte in
            token.unicodeScalars.append("=")
            token.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
            token.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
        }
        return token
    }
}
