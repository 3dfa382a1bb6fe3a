/// Parses the two listing formats servers send: MLSD (RFC 3659, machine-readable facts) and the
/// `ls -l`-style LIST that servers without MLSD (vsftpd) send.
enum FTPListing {
    /// `type=file;size=123;modify=20261126023000; name` per line.
    static func parseMLSD(_ text: String) -> [FolderEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            guard let space = line.firstIndex(of: " ") else { return nil }
            let name = String(line[line.index(after: space)...])
            var kind = FolderEntry.Kind.other
            var size: Int64 = 0
            var modified: Int64?
            for fact in line[..<space].split(separator: ";") {
                let pair = fact.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let value = pair[1]
                switch pair[0].lowercased() {
                case "type":
                    switch value.lowercased() {
                    case "file": kind = .file
                    case "dir": kind = .directory
                    default: kind = .other  // cdir, pdir, OS.unix=symlink…
                    }
                case "size": size = Int64(value) ?? 0
                case "modify": modified = parseModifyFact(String(value))
                default: break
                }
            }
            guard name != ".", name != "..", !name.isEmpty else { return nil }
            return FolderEntry(name: name, kind: kind, size: size, modified: modified)
        }
    }

    /// `-rw-r--r--    1 1001     1001          123 Nov 26 02:30 name` per line. The name is whatever
    /// follows the eighth field, so names with spaces survive; symbolic links (`l…`) are skipped.
    static func parseLIST(_ text: String) -> [FolderEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            var fields: [Substring] = []
            var rest = Substring(line)
            while fields.count < 8 {
                rest = rest.drop(while: { $0 == " " })
                guard let end = rest.firstIndex(of: " ") else { return nil }
                fields.append(rest[..<end])
                rest = rest[end...]
            }
            guard rest.first == " " else { return nil }
            let name = String(rest.dropFirst())
            guard let type = fields[0].first, name != ".", name != "..", !name.isEmpty else { return nil }
            let kind: FolderEntry.Kind = type == "-" ? .file : type == "d" ? .directory : .other
            return FolderEntry(name: name, kind: kind, size: Int64(fields[4]) ?? 0, modified: nil)
        }
    }

    /// `YYYYMMDDHHMMSS[.sss]` in UTC.
    static func parseModifyFact(_ text: String) -> Int64? {
        let digits = Array(text.prefix(14).utf8)
        guard digits.count == 14, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        func number(_ range: Range<Int>) -> Int64 {
            digits[range].reduce(0) { $0 * 10 + Int64($1 - 48) }
        }
        let (year, month, day) = (number(0..<4), number(4..<6), number(6..<8))
        let (hour, minute, second) = (number(8..<10), number(10..<12), number(12..<14))
        // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// The quoted folder of a `257 "/home/pbx" is the current directory` reply (`""` escapes `"`).
    static func parsePWD(_ reply: String) -> String? {
        guard reply.hasPrefix("257"), let open = reply.firstIndex(of: "\"") else { return nil }
        var result = ""
        var index = reply.index(after: open)
        while index < reply.endIndex {
            let c = reply[index]
            index = reply.index(after: index)
            if c == "\"" {
                if index < reply.endIndex, reply[index] == "\"" {
                    result.append("\"")
                    index = reply.index(after: index)
                } else {
                    return result
                }
            } else {
                result.append(c)
            }
        }
        return nil
    }
}
