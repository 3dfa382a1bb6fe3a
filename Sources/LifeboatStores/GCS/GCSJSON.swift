import Foundation

/// The JSON documents of the GCS JSON API and Google's OAuth 2.0 token endpoint that the store reads.
enum GCSJSON {
    /// An object resource (`storage#object`), the fields the store uses.
    struct Object: Equatable {
        var name: String
        var size: Int64
        /// Seconds since 1970 (`updated`).
        var updated: Int64?
        /// Base64 of the big-endian CRC-32C.
        var crc32c: String?
        /// Base64 of the MD5 (absent for composite objects).
        var md5Hash: String?
        var generation: String?
    }

    /// A page of `objects.list`.
    struct ObjectList {
        var items: [Object]
        var nextPageToken: String?
    }

    /// GCS's error document: `{"error": {"code", "message", "errors": [{"reason", "message"}]}}`.
    struct ErrorBody {
        var message: String?
        var reasons: [String]
    }

    /// A token endpoint's answer: `access_token` and `expires_in`, or `error` and `error_description`.
    struct TokenAnswer {
        var accessToken: String?
        var expiresIn: Double?
        var error: String?
        var errorDescription: String?
    }

    static func object(_ body: [UInt8]) -> Object? {
        dictionary(body).flatMap(object(from:))
    }

    static func objectList(_ body: [UInt8]) -> ObjectList? {
        guard let fields = dictionary(body) else { return nil }
        let items = (fields["items"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).flatMap(object(from:)) }
        let token = (fields["nextPageToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return ObjectList(items: items, nextPageToken: token)
    }

    static func error(_ body: [UInt8]) -> ErrorBody? {
        guard let fields = dictionary(body), let error = fields["error"] as? [String: Any] else { return nil }
        let reasons = (error["errors"] as? [Any] ?? []).compactMap { ($0 as? [String: Any])?["reason"] as? String }
        return ErrorBody(message: error["message"] as? String, reasons: reasons)
    }

    static func tokenAnswer(_ body: [UInt8]) -> TokenAnswer? {
        guard let fields = dictionary(body) else { return nil }
        return TokenAnswer(
            accessToken: fields["access_token"] as? String, expiresIn: number(fields["expires_in"]).map(Double.init),
            error: fields["error"] as? String, errorDescription: fields["error_description"] as? String)
    }

    /// `2026-11-26T02:30:00.123Z` (RFC 3339 in UTC, as GCS writes times) as seconds since 1970.
    static func timestamp(_ text: String) -> Int64? {
        let head = text.prefix(19)
        guard head.count == 19, text.dropFirst(19).first.map({ $0 == "." || $0 == "Z" }) ?? false else { return nil }
        let digits = head.filter(\.isNumber)
        return FTPListing.parseModifyFact(String(digits))
    }

    // MARK: Helpers

    private static func dictionary(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    private static func object(from fields: [String: Any]) -> Object? {
        guard let name = fields["name"] as? String, let size = number(fields["size"]) else { return nil }
        return Object(
            name: name, size: size, updated: (fields["updated"] as? String).flatMap(timestamp),
            crc32c: fields["crc32c"] as? String, md5Hash: fields["md5Hash"] as? String,
            generation: (fields["generation"] as? String) ?? number(fields["generation"]).map(String.init))
    }

    /// GCS writes 64-bit numbers as strings (`"size": "123"`); emulators sometimes as numbers.
    private static func number(_ value: Any?) -> Int64? { JSONField.int64(value) }
}
