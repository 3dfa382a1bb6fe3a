import Yams

/// A YAML node with its key path and line, for reading configuration with exact error messages.
struct ConfigNode {
    let node: Node
    let path: String
    let file: String
    /// The line of the key this value belongs to, so errors about a whole section point at its name.
    var keyLine: Int? = nil

    var line: Int? { keyLine ?? node.mark?.line }

    func error(_ message: String) -> ConfigurationError {
        ConfigurationError(file: file, keyPath: path, line: line, message: message)
    }

    private func child(_ node: Node, key: String, keyLine: Int?) -> ConfigNode {
        ConfigNode(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file, keyLine: keyLine)
    }

    var isNull: Bool {
        if case .scalar(let s) = node, s.tag.description == Tag.Name.null.rawValue || s.string == "~" || s.string.isEmpty,
            s.style == .plain
        {
            return true
        }
        return false
    }

    /// The mapping's values by key; unknown keys and duplicates are errors.
    func mapping(allowed: [String]) throws -> [String: ConfigNode] {
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping with keys \(allowed.joined(separator: ", "))")
        }
        var result: [String: ConfigNode] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else { throw error("keys must be plain words") }
            let key = keyScalar.string
            let located = ConfigNode(node: keyNode, path: path.isEmpty ? key : "\(path).\(key)", file: file)
            guard allowed.contains(key) else {
                let hint = Self.closest(key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                throw located.error("unknown key\(hint); allowed here: \(allowed.joined(separator: ", "))")
            }
            guard result[key] == nil else { throw located.error("key given twice") }
            result[key] = child(value, key: key, keyLine: keyNode.mark?.line)
        }
        return result
    }

    func string() throws -> String {
        guard case .scalar(let s) = node, !isNull else { throw error("expected a text value") }
        return s.string
    }

    func nonEmptyString() throws -> String {
        let s = try string()
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return s
    }

    func int(min: Int? = nil, max: Int? = nil) throws -> Int {
        guard case .scalar(let s) = node, let value = Int(s.string) else { throw error("expected a whole number") }
        if let min, value < min { throw error("must be at least \(min), not \(value)") }
        if let max, value > max { throw error("must be at most \(max), not \(value)") }
        return value
    }

    /// A size in bytes: a whole number, optionally with a unit `KiB`, `MiB`, `GiB` (powers of 1024)
    /// or `KB`, `MB`, `GB` (powers of 1000), e.g. `16MiB`, `64 MiB`.
    func byteSize(min: Int? = nil, max: Int? = nil) throws -> Int {
        guard case .scalar(let s) = node, !isNull else { throw error("expected a size such as 16MiB") }
        let text = s.string.trimmingCharacters(in: .whitespaces)
        let digits = text.prefix { $0.isNumber }
        let unit = text.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let factors: [String: Int] = [
            "": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1000, "MB": 1_000_000,
            "GB": 1_000_000_000,
        ]
        guard let number = Int(digits), let factor = factors[unit] else {
            throw error("expected a size such as 16MiB (units: KiB, MiB, GiB, KB, MB, GB), not '\(text)'")
        }
        let value = number.multipliedReportingOverflow(by: factor)
        guard !value.overflow else { throw error("size '\(text)' is too large") }
        if let min, value.partialValue < min { throw error("must be at least \(min) bytes, not '\(text)'") }
        if let max, value.partialValue > max { throw error("must be at most \(max) bytes, not '\(text)'") }
        return value.partialValue
    }

    func bool() throws -> Bool {
        guard case .scalar(let s) = node else { throw error("expected true or false") }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, not '\(s.string)'")
        }
    }

    func list() throws -> [ConfigNode] {
        guard case .sequence(let seq) = node else { throw error("expected a list") }
        return seq.enumerated().map { ConfigNode(node: $1, path: "\(path)[\($0)]", file: file) }
    }

    func stringList() throws -> [String] {
        if case .scalar = node, !isNull { return [try string()] }
        return try list().map { try $0.string() }
    }

    static func closest(_ word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
        guard let best = scored, best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let current = row[j]
                row[j] = Swift.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}

import Foundation
