import Foundation
import LifeboatCore

/// The signed update feed a publisher serves at `firmware.feed_url`:
///
/// ```json
/// {"product": "asterisk-pbx", "channel": "stable",
///  "issued": "2026-11-20T00:00:00Z", "expires": "2026-12-20T00:00:00Z",
///  "releases": [{"version": "37.12.0.44", "url": "https://updates.example.com/pbx-37.12.0.44.img",
///                "size": 73400320, "sha256": "…", "notes": "…"}]}
/// ```
///
/// Unknown keys are ignored, so publishers can add fields without breaking older agents. Decode it
/// only from bytes whose signature was verified: `FeedPolicy.check` does both, in that order.
public struct FirmwareFeed: Sendable, Decodable {
    /// The product the feed is for; must equal `firmware.product`.
    public var product: String
    /// The channel the feed is for (`stable`, `beta`, …); must equal `firmware.channel`.
    public var channel: String
    /// When the publisher made the feed (ISO 8601).
    public var issued: Date
    /// After this time (ISO 8601) the feed must not be trusted: it bounds how long an old feed can
    /// be replayed.
    public var expires: Date
    /// The releases offered, in any order.
    public var releases: [FirmwareRelease]

    private enum CodingKeys: String, CodingKey {
        case product, channel, issued, expires, releases
    }

    public init(
        product: String, channel: String, issued: Date, expires: Date, releases: [FirmwareRelease]
    ) {
        self.product = product
        self.channel = channel
        self.issued = issued
        self.expires = expires
        self.releases = releases
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        product = try container.decode(String.self, forKey: .product)
        channel = try container.decode(String.self, forKey: .channel)
        issued = try Self.decodeTime(container, .issued)
        expires = try Self.decodeTime(container, .expires)
        releases = try container.decode([FirmwareRelease].self, forKey: .releases)
    }

    private static func decodeTime(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = Timestamp.parseISO8601(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container,
                debugDescription: "\"\(text)\" is not an ISO 8601 time such as 2026-11-20T00:00:00Z")
        }
        return date
    }
}

/// One firmware image offered by a feed.
public struct FirmwareRelease: Sendable, Decodable, Equatable {
    /// The firmware version the image installs.
    public var version: FirmwareVersion
    /// Where to download the image; `https` unless `allow_insecure` is set.
    public var url: String
    /// The image size in bytes.
    public var size: Int64
    /// The SHA-256 of the image, 64 hex digits; the download is checked against it.
    public var sha256: String
    /// Release notes for people, if the publisher gives any.
    public var notes: String?

    public init(version: FirmwareVersion, url: String, size: Int64, sha256: String, notes: String? = nil) {
        self.version = version
        self.url = url
        self.size = size
        self.sha256 = sha256
        self.notes = notes
    }
}
