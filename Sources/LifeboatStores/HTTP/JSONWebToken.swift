import Foundation
import LifeboatCrypto

/// A JSON Web Token (RFC 7519) in compact form, signed with RS256 (RFC 7515, RFC 7518 §3.3): the
/// assertion with which a service logs in to an OAuth 2.0 token endpoint — Google's JWT-bearer grant
/// for service accounts (RFC 7523), Microsoft's client-credentials grant with a certificate
/// (`client_assertion`).
///
/// Header fields and claims keep the order they are given in; `alg` and `typ` come first.
struct JSONWebToken {
    /// A header field or claim value.
    enum Value: Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case string(String)
        case integer(Int64)

        init(stringLiteral value: String) { self = .string(value) }
        init(integerLiteral value: Int64) { self = .integer(value) }
    }

    /// Header fields after `alg` and `typ`, e.g. `kid` (Google) or `x5t#S256` (Microsoft).
    var header: [(name: String, value: Value)]
    var claims: [(name: String, value: Value)]

    init(header: [(name: String, value: Value)] = [], claims: [(name: String, value: Value)]) {
        self.header = header
        self.claims = claims
    }

    /// `BASE64URL(header) . BASE64URL(claims)`: what the signature covers.
    var signingInput: String {
        let fullHeader: [(name: String, value: Value)] = [("alg", "RS256"), ("typ", "JWT")] + header
        return Self.base64URL(Array(Self.json(fullHeader).utf8)) + "." + Self.base64URL(Array(Self.json(claims).utf8))
    }

    /// The token: `signingInput . BASE64URL(RS256 signature)`.
    func signed(with key: RSASigningKey) throws -> String {
        let input = signingInput
        return input + "." + Self.base64URL(try key.signSHA256(Array(input.utf8)))
    }

    /// Base64 with the URL-safe alphabet and no padding (RFC 7515 §2).
    static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// A JSON object with the fields in order.
    static func json(_ fields: [(name: String, value: Value)]) -> String {
        let members = fields.map { field -> String in
            let value =
                switch field.value {
                case .string(let text): quoted(text)
                case .integer(let number): String(number)
                }
            return quoted(field.name) + ":" + value
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// A JSON string literal (RFC 8259 §7).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
