/// One recipient stanza of an age header: `-> arguments…` and a binary body.
struct AgeStanza: Sendable {
    /// The arguments after `-> `; the first is the stanza type (e.g. `X25519`).
    var arguments: [String]
    var body: [UInt8]

    /// The stanza as it appears in a header: argument line, then the body in base64 wrapped at
    /// 64 columns, always ending with a line shorter than 64 (possibly empty).
    func encoded() -> [UInt8] {
        var out = Array("-> ".utf8) + Array(arguments.joined(separator: " ").utf8) + [0x0A]
        let text = Base64Unpadded.encode(body)
        var i = 0
        while i + 64 <= text.count {
            out += text[i..<(i + 64)]
            out.append(0x0A)
            i += 64
        }
        out += text[i...]
        out.append(0x0A)
        return out
    }
}
