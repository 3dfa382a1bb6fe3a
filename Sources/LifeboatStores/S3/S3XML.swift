/// Reads the flat XML documents S3 answers with (`ListBucketResult`, `Error`,
/// `InitiateMultipartUploadResult`, …) without a general XML parser: S3's documents have no
/// attributes that matter, no CDATA and no nesting of an element inside itself.
struct S3XML {
    let text: Substring

    init(_ bytes: [UInt8]) { text = Substring(String(decoding: bytes, as: UTF8.self)) }
    init(_ text: Substring) { self.text = text }

    /// The contents of every `<name>…</name>` (or `<name attr="…">…</name>`) element, in order.
    func elements(_ name: String) -> [S3XML] {
        var result: [S3XML] = []
        var rest = text[...]
        let close = "</\(name)>"
        while let open = rest.range(of: "<\(name)") {
            let after = rest[open.upperBound...]
            guard let first = after.first else { break }
            if first == "/" , after.dropFirst().first == ">" {  // `<name/>`: empty
                result.append(S3XML(""))
                rest = after.dropFirst(2)
                continue
            }
            guard first == ">" || first == " ", let tagEnd = after.firstIndex(of: ">"),
                let end = after[tagEnd...].range(of: close)
            else {
                rest = after
                continue
            }
            result.append(S3XML(after[after.index(after: tagEnd)..<end.lowerBound]))
            rest = after[end.upperBound...]
        }
        return result
    }

    /// The decoded text of the first `<name>` element.
    func value(_ name: String) -> String? {
        elements(name).first.map { Self.decode($0.text) }
    }

    /// Replaces the five predefined entities and numeric character references.
    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let scalar: UInt32? =
                    entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst(), radix: 10) : nil
                if let scalar, let character = Unicode.Scalar(scalar) {
                    out.unicodeScalars.append(character)
                } else {
                    out += "&" + entity + ";"
                }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    /// Escapes text for an element's content.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
