import Foundation
import LifeboatCore

/// The JSON documents of Microsoft Graph and the identity platform's token endpoint that the
/// SharePoint store reads.
enum GraphJSON {
    /// A driveItem, the fields the store uses.
    struct DriveItem: Equatable {
        var id: String
        var name: String
        var size: Int64
        /// Seconds since 1970 (`lastModifiedDateTime`).
        var modified: Int64?
        var isFolder: Bool
        var isFile: Bool
        /// `file.hashes.quickXorHash`: base64 of Microsoft's QuickXorHash.
        var quickXorHash: String?
    }

    /// A page of a `children` listing.
    struct Page {
        var items: [DriveItem]
        /// `@odata.nextLink`: the absolute URL of the next page.
        var nextLink: String?
    }

    /// An uploadSession resource, or the status of one.
    struct UploadSession {
        var uploadURL: String?
        var nextExpectedRanges: [String]
        var expirationDateTime: String?
    }

    /// Graph's error document: `{"error": {"code", "message"}}`.
    struct ErrorBody {
        var code: String?
        var message: String?
    }

    /// A token endpoint's answer: `access_token` and `expires_in`, or `error`, `error_description`
    /// and `error_codes` (the AADSTS numbers).
    struct TokenAnswer {
        var accessToken: String?
        var expiresIn: Double?
        var error: String?
        var errorDescription: String?
        var errorCodes: [Int]
    }

    static func driveItem(_ body: [UInt8]) -> DriveItem? {
        dictionary(body).flatMap(driveItem(from:))
    }

    static func page(_ body: [UInt8]) -> Page? {
        guard let fields = dictionary(body), let values = fields["value"] as? [Any] else { return nil }
        let items = values.compactMap { ($0 as? [String: Any]).flatMap(driveItem(from:)) }
        guard items.count == values.count else { return nil }
        return Page(items: items, nextLink: fields["@odata.nextLink"] as? String)
    }

    static func uploadSession(_ body: [UInt8]) -> UploadSession? {
        guard let fields = dictionary(body) else { return nil }
        return UploadSession(
            uploadURL: fields["uploadUrl"] as? String,
            nextExpectedRanges: (fields["nextExpectedRanges"] as? [Any] ?? []).compactMap { $0 as? String },
            expirationDateTime: fields["expirationDateTime"] as? String)
    }

    static func error(_ body: [UInt8]) -> ErrorBody? {
        guard let fields = dictionary(body), let error = fields["error"] as? [String: Any] else { return nil }
        return ErrorBody(code: error["code"] as? String, message: error["message"] as? String)
    }

    static func tokenAnswer(_ body: [UInt8]) -> TokenAnswer? {
        guard let fields = dictionary(body) else { return nil }
        return TokenAnswer(
            accessToken: fields["access_token"] as? String, expiresIn: number(fields["expires_in"]).map(Double.init),
            error: fields["error"] as? String, errorDescription: fields["error_description"] as? String,
            errorCodes: (fields["error_codes"] as? [Any] ?? []).compactMap { number($0).map(Int.init) })
    }

    /// The `id` of a site or a drive.
    static func id(_ body: [UInt8]) -> String? {
        dictionary(body)?["id"] as? String
    }

    /// `(id, name)` of each drive in `{"value": [drive…]}`.
    static func drives(_ body: [UInt8]) -> [(id: String, name: String)]? {
        guard let values = dictionary(body)?["value"] as? [Any] else { return nil }
        return values.compactMap { value in
            guard let fields = value as? [String: Any], let id = fields["id"] as? String else { return nil }
            return (id, fields["name"] as? String ?? "")
        }
    }

    /// Where the first range Graph still expects starts: `"12345-"` or `"12345-55232"` → 12345; nil when
    /// the list is empty or unreadable.
    static func firstExpectedOffset(_ ranges: [String]) -> Int64? {
        let starts = ranges.compactMap { range -> Int64? in
            guard let dash = range.firstIndex(of: "-") else { return Int64(range.trimmingCharacters(in: .whitespaces)) }
            return Int64(range[..<dash].trimmingCharacters(in: .whitespaces))
        }
        return starts.min()
    }

    /// `2026-11-26T02:30:00.123Z` or `2026-11-26T02:30:00Z` as seconds since 1970.
    static func timestamp(_ text: String) -> Int64? {
        Timestamp.parseISO8601(text).map { Int64($0.timeIntervalSince1970) }
    }

    // MARK: Helpers

    private static func dictionary(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    private static func driveItem(from fields: [String: Any]) -> DriveItem? {
        guard let id = fields["id"] as? String, let name = fields["name"] as? String else { return nil }
        let file = fields["file"] as? [String: Any]
        let hashes = file?["hashes"] as? [String: Any]
        return DriveItem(
            id: id, name: name, size: number(fields["size"]) ?? 0,
            modified: (fields["lastModifiedDateTime"] as? String).flatMap(timestamp),
            isFolder: fields["folder"] != nil, isFile: file != nil, quickXorHash: hashes?["quickXorHash"] as? String)
    }

    private static func number(_ value: Any?) -> Int64? { JSONField.int64(value) }
}
