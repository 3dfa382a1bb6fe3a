import Foundation
import LifeboatCore
import LifeboatCrypto

/// AWS Signature Version 4 for S3 requests, header form (`Authorization: AWS4-HMAC-SHA256 …`).
///
/// The canonical request is built from exactly what is sent: the method, the path as it appears in
/// the URL, the query sorted by name and value with RFC 3986 encoding, every header given (names
/// lower-cased, values trimmed, sorted), and the payload's SHA-256 (always sent as
/// `x-amz-content-sha256`). Reference: "Authenticating Requests: Using the Authorization Header"
/// in the Amazon S3 API documentation.
struct SigV4Signer: Sendable {
    let accessKeyID: String
    let secretAccessKey: Secret
    let region: String
    let service: String

    /// The hex SHA-256 of an empty payload.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    init(accessKeyID: String, secretAccessKey: Secret, region: String, service: String = "s3") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256` and `Authorization`.
    ///
    /// - Parameters:
    ///   - path: the URL path exactly as sent, already percent-encoded (`/bucket/a%20b`).
    ///   - query: decoded name/value pairs; they are encoded and sorted here.
    ///   - headers: every other header that is sent and should be signed, `host` included.
    func sign(
        method: String, path: String, query: [(String, String)], headers: [(name: String, value: String)],
        payloadHash: String, date: Date
    ) -> [(name: String, value: String)] {
        let (amzDate, day) = Self.timestamps(date)
        var all = headers.map { (name: $0.name.lowercased(), value: Self.trim($0.value)) }
        all.append((name: "x-amz-content-sha256", value: payloadHash))
        all.append((name: "x-amz-date", value: amzDate))
        all.sort { $0.name < $1.name }

        let encodedQuery: [(name: String, value: String)] = query.map {
            (name: URIEncoding.encode($0.0), value: URIEncoding.encode($0.1))
        }
        let sortedQuery = encodedQuery.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = sortedQuery.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        let canonicalHeaders = all.map { "\($0.name):\($0.value)\n" }.joined()
        let signedHeaders = all.map(\.name).joined(separator: ";")
        let canonicalRequest = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope,
            Hex.encode(MessageDigest.hash(.sha256, Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        let signature = Hex.encode(HMACSHA256.authenticate(key: signingKey(day: day), message: Array(stringToSign.utf8)))
        return [
            (name: "x-amz-content-sha256", value: payloadHash),
            (name: "x-amz-date", value: amzDate),
            (
                name: "Authorization",
                value: "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), "
                    + "Signature=\(signature)"
            ),
        ]
    }

    /// The signing key for one day: HMAC chain over date, region, service and `aws4_request`.
    func signingKey(day: String) -> [UInt8] {
        var key = HMACSHA256.authenticate(key: Array("AWS4\(secretAccessKey.reveal())".utf8), message: Array(day.utf8))
        for part in [region, service, "aws4_request"] {
            key = HMACSHA256.authenticate(key: key, message: Array(part.utf8))
        }
        return key
    }

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd` in UTC.
    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        let day = String(format: "%04d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        let clock = String(format: "%02d%02d%02d", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return (day + "T" + clock + "Z", day)
    }

    /// Header values as SigV4 wants them: outer spaces removed, inner runs of spaces made one.
    static func trim(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
