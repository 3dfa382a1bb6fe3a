import Foundation
import LifeboatCore
import LifeboatCrypto

/// What a firmware feed must satisfy to be trusted, from the `firmware:` configuration.
///
/// `check` verifies the minisign signature before anything of the feed is parsed, then refuses the
/// feed as a whole, with a `FirmwareError` naming the reason, when any rule is broken.
public struct FeedPolicy: Sendable {
    /// The largest feed body accepted by default (1 MiB).
    public static let defaultMaximumFeedSize = 1 << 20
    /// The largest `.minisig` accepted by default (4 KiB).
    public static let defaultMaximumSignatureSize = MinisignSignature.maximumTextLength

    /// The publisher's minisign public key (`firmware.public_key`).
    public var publicKey: MinisignPublicKey
    /// The product the feed must name (`firmware.product`).
    public var product: String
    /// The channel the feed must name (`firmware.channel`).
    public var channel: String
    /// The largest image size accepted, in bytes; a release above it refuses the feed.
    public var maximumImageSize: Int64
    /// When set, a feed issued more than this many seconds ago is refused, even before it expires.
    public var maximumFeedAge: Int64?
    /// How far in the future (seconds) `issued` may be before the feed is refused: clocks differ.
    public var clockSkew: Int64
    /// Whether release URLs may be plain `http` (local test servers); otherwise only `https`.
    public var allowInsecure: Bool
    /// Feed bodies larger than this are refused before anything is parsed.
    public var maximumFeedSize: Int
    /// Signatures larger than this are refused before anything is parsed.
    public var maximumSignatureSize: Int

    public init(
        publicKey: MinisignPublicKey, product: String, channel: String, maximumImageSize: Int64,
        maximumFeedAge: Int64? = nil, clockSkew: Int64 = 300, allowInsecure: Bool = false,
        maximumFeedSize: Int = defaultMaximumFeedSize, maximumSignatureSize: Int = defaultMaximumSignatureSize
    ) {
        self.publicKey = publicKey
        self.product = product
        self.channel = channel
        self.maximumImageSize = maximumImageSize
        self.maximumFeedAge = maximumFeedAge
        self.clockSkew = clockSkew
        self.allowInsecure = allowInsecure
        self.maximumFeedSize = maximumFeedSize
        self.maximumSignatureSize = maximumSignatureSize
    }

    /// Verifies and checks a downloaded feed; returns the release to offer, if any.
    ///
    /// In order: both sizes are bounded; the signature is verified (so nothing is parsed from
    /// unverified bytes); the JSON is decoded; product and channel must match; `expires` must be in
    /// the future, `issued` not beyond `clockSkew` in the future nor older than `maximumFeedAge`;
    /// every release must have a 64-hex-digit SHA-256, an https URL (http too with
    /// `allowInsecure`), a size within `maximumImageSize` and a version not listed twice; and the
    /// newest release must not be lower than `highestSeen` (a replayed older feed, or a publisher
    /// that withdrew its newest release: both are refused until a newer one is published).
    ///
    /// - Parameters:
    ///   - feed: the body served at `feed_url`.
    ///   - signature: the body served at `feed_url + ".minisig"`.
    ///   - now: the current time.
    ///   - highestSeen: the highest version any accepted feed offered before (persisted state).
    ///   - current: the firmware version installed, when known.
    /// - Returns: the verified feed, the newest release above `current` (nil when up to date), and
    ///   the highest version seen to persist.
    /// - Throws: `FirmwareError`; `.badSignature` carries the `MinisignError` as `underlying`.
    public func check(
        feed: [UInt8], signature: [UInt8], now: Date, highestSeen: FirmwareVersion?, current: FirmwareVersion?
    ) throws -> FeedCheck {
        guard feed.count <= maximumFeedSize else {
            throw FirmwareError(
                .tooLarge,
                "the feed is \(feed.count) bytes, more than the limit of \(maximumFeedSize); check firmware.feed_url")
        }
        guard signature.count <= maximumSignatureSize else {
            throw FirmwareError(
                .tooLarge,
                "the feed signature is \(signature.count) bytes, more than the limit of \(maximumSignatureSize); "
                    + "check that feed_url + \".minisig\" serves a minisign signature")
        }
        let trustedComment: String
        do {
            let parsed = try MinisignSignature(String(decoding: signature, as: UTF8.self))
            trustedComment = try publicKey.verify(feed, signature: parsed)
        } catch let error as MinisignError {
            throw FirmwareError(.badSignature, "the feed signature is refused: \(error.message)", underlying: error)
        }

        let decoded: FirmwareFeed
        do {
            decoded = try LifeboatJSON.decode(FirmwareFeed.self, from: feed)
        } catch let error as FirmwareError {
            throw FirmwareError(
                .malformedFeed, "the signed feed has an invalid version: \(error.message)", underlying: error)
        } catch let error as DecodingError {
            throw FirmwareError(
                .malformedFeed, "the signed feed is not a valid feed: \(Self.describe(error))", underlying: error)
        } catch {
            throw FirmwareError(.malformedFeed, "the signed feed is not valid JSON: \(error)", underlying: error)
        }

        try checkIdentity(decoded)
        try checkTimes(decoded, now: now)
        try checkReleases(decoded.releases)

        let newest = decoded.releases.map(\.version).max()
        if let newest, let highestSeen, newest < highestSeen {
            throw FirmwareError(
                .rollback,
                "the feed's newest release is \(newest), lower than \(highestSeen) offered before: an older "
                    + "feed may be being replayed (rollback), or the publisher withdrew \(highestSeen)")
        }
        let available = decoded.releases
            .filter { release in current.map { release.version > $0 } ?? true }
            .max { $0.version < $1.version }
        let newHighest = [highestSeen, newest].compactMap { $0 }.max()
        return FeedCheck(feed: decoded, trustedComment: trustedComment, available: available, highestSeen: newHighest)
    }

    private func checkIdentity(_ feed: FirmwareFeed) throws {
        guard feed.product == product else {
            throw FirmwareError(
                .productMismatch,
                "the feed is for product \"\(feed.product)\", but firmware.product is \"\(product)\"")
        }
        guard feed.channel == channel else {
            throw FirmwareError(
                .channelMismatch,
                "the feed is for channel \"\(feed.channel)\", but firmware.channel is \"\(channel)\"")
        }
    }

    private func checkTimes(_ feed: FirmwareFeed, now: Date) throws {
        let issued = Timestamp.iso8601(feed.issued)
        let expires = Timestamp.iso8601(feed.expires)
        guard feed.expires > feed.issued else {
            throw FirmwareError(.malformedFeed, "the feed expires (\(expires)) before it was issued (\(issued))")
        }
        guard feed.expires > now else {
            throw FirmwareError(
                .expired,
                "the feed expired at \(expires) (now \(Timestamp.iso8601(now))): the publisher has not "
                    + "renewed it, or an old feed is being replayed")
        }
        guard feed.issued <= now.addingTimeInterval(TimeInterval(clockSkew)) else {
            throw FirmwareError(
                .issuedInFuture,
                "the feed was issued at \(issued), more than \(clockSkew) s after now (\(Timestamp.iso8601(now))); "
                    + "check this machine's clock")
        }
        if let maximumFeedAge, feed.issued < now.addingTimeInterval(-TimeInterval(maximumFeedAge)) {
            throw FirmwareError(
                .stale,
                "the feed was issued at \(issued), more than \(DurationText.render(maximumFeedAge)) before now "
                    + "(\(Timestamp.iso8601(now))): the publisher has not renewed it, or an old feed is being replayed")
        }
    }

    private func checkReleases(_ releases: [FirmwareRelease]) throws {
        var seen = Set<FirmwareVersion>()
        for release in releases {
            guard seen.insert(release.version).inserted else {
                throw FirmwareError(.invalidRelease, "the feed lists version \(release.version) more than once")
            }
            guard release.sha256.utf8.count == 64, Hex.decode(release.sha256) != nil else {
                throw FirmwareError(
                    .invalidRelease,
                    "release \(release.version) has sha256 \"\(release.sha256.prefix(80))\", which is not 64 hex digits"
                )
            }
            let scheme = URL(string: release.url)?.scheme?.lowercased()
            let host = URL(string: release.url)?.host ?? ""
            guard scheme == "https" || (allowInsecure && scheme == "http"), !host.isEmpty else {
                let allowed = allowInsecure ? "an http or https URL" : "an https URL (http needs allow_insecure)"
                throw FirmwareError(
                    .invalidRelease,
                    "release \(release.version) has URL \"\(release.url.prefix(200))\", which is not \(allowed)")
            }
            guard release.size >= 0 else {
                throw FirmwareError(.invalidRelease, "release \(release.version) has a negative size \(release.size)")
            }
            guard release.size <= maximumImageSize else {
                throw FirmwareError(
                    .imageTooLarge,
                    "release \(release.version) is \(release.size) bytes, more than the limit of \(maximumImageSize)")
            }
        }
    }

    /// A one-line account of a decoding error: the key path and what was wrong there.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "the top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "the key \"\(key.stringValue)\" is missing\(parent)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type: \(context.debugDescription)"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// The outcome of a feed that passed every check of `FeedPolicy.check`.
public struct FeedCheck: Sendable {
    /// The verified feed.
    public var feed: FirmwareFeed
    /// The signature's verified trusted comment (minisign puts a timestamp and the file name there).
    public var trustedComment: String
    /// The newest release above the current version; nil when the firmware is up to date.
    public var available: FirmwareRelease?
    /// The highest version seen so far, including this feed's; persist it for the next check.
    public var highestSeen: FirmwareVersion?
}
