import Foundation
import LifeboatCore
import LifeboatCurl

/// Fetches the update feed (`firmware.feed_url`) and its detached signature (`feed_url + ".minisig"`)
/// over HTTPS and hands both to `FeedPolicy.check`.
///
/// TLS is verified against `caFile` (`firmware.ca_file`) when set, else the system's authorities;
/// plain `http://` is refused unless the policy's `allowInsecure` (`firmware.allow_insecure`) is
/// set; redirects are never followed. The feed body may not exceed the policy's
/// `maximumFeedSize`, the signature its `maximumSignatureSize` (4 KiB): a larger answer is refused
/// as soon as it passes the limit, without reading the rest. Every failure is a `FirmwareError`
/// naming the URL: `.unavailable` (retryable: no connection, a broken or stalled transfer, a
/// timeout, 408/429/5xx), `.tls`, `.notFound` (a missing `.minisig` is a 404 here), `.httpStatus`,
/// `.tooLarge`, `.cancelled`, then whatever `FeedPolicy.check` refuses.
///
/// `fetch` and `check` block while they transfer: call them from a thread of your own, never from
/// Swift's cooperative pool.
public struct FeedFetcher: Sendable, CustomStringConvertible {
    /// Where the feed is served (`firmware.feed_url`).
    public let feedURL: String
    /// What the feed must satisfy; its `allowInsecure` also decides whether `http://` is accepted.
    public let policy: FeedPolicy
    /// A PEM bundle of certificate authorities to trust instead of the system's (`firmware.ca_file`).
    public var caFile: String?
    /// Seconds to wait for the connection.
    public var connectTimeout: Double
    /// A transfer that moves less than one byte per second for this many seconds is abandoned.
    public var stallTimeout: Double
    /// Seconds each of the two requests may take in all, however it trickles.
    public var totalTimeout: Double

    /// Checks `feedURL` (see ``FeedFetcher``); throws `FirmwareError` with code `.invalidURL` when it
    /// is not https (http needs `policy.allowInsecure`), has credentials or a fragment.
    public init(
        feedURL: String, policy: FeedPolicy, caFile: String? = nil, connectTimeout: Double = 30,
        stallTimeout: Double = 30, totalTimeout: Double = 120
    ) throws {
        try FirmwareHTTP.validate(feedURL, allowInsecure: policy.allowInsecure, setting: "firmware.feed_url")
        self.feedURL = feedURL
        self.policy = policy
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.totalTimeout = totalTimeout
    }

    /// `feedURL + ".minisig"`.
    public var signatureURL: String { feedURL + ".minisig" }

    public var description: String { "firmware feed \(feedURL)" }

    /// Downloads the feed and its signature, bounded in size; nothing is verified yet.
    public func fetch(cancellation: CurlCancellation? = nil) throws -> FetchedFeed {
        let http = FirmwareHTTP(
            caFile: caFile, connectTimeout: connectTimeout, stallTimeout: stallTimeout, totalTimeout: totalTimeout,
            cancellation: cancellation)
        let handle: CurlHandle
        do {
            handle = try CurlHandle()
        } catch {
            throw FirmwareError(.transferFailed, "fetching the feed \(feedURL) failed: \(error)", underlying: error)
        }
        let feed = try get(
            feedURL, what: "fetching the feed", limit: policy.maximumFeedSize, http: http, handle: handle,
            notFoundHint: "check firmware.feed_url")
        let signature = try get(
            signatureURL, what: "fetching the feed signature", limit: policy.maximumSignatureSize, http: http,
            handle: handle,
            notFoundHint: "the publisher must serve the minisign signature of the feed at feed_url + \".minisig\"")
        return FetchedFeed(feed: feed, signature: signature)
    }

    /// Fetches the feed and its signature and checks them with `policy` (see `FeedPolicy.check`).
    public func check(
        now: Date, highestSeen: FirmwareVersion?, current: FirmwareVersion?, cancellation: CurlCancellation? = nil
    ) throws -> FeedCheck {
        let fetched = try fetch(cancellation: cancellation)
        return try policy.check(
            feed: fetched.feed, signature: fetched.signature, now: now, highestSeen: highestSeen, current: current)
    }

    private func get(
        _ url: String, what: String, limit: Int, http: FirmwareHTTP, handle: CurlHandle, notFoundHint: String
    ) throws -> [UInt8] {
        let sink = LimitedMemorySink(limit: limit)
        let response: CurlResponse
        do {
            response = try http.get(url, what: what, into: sink, handle: handle)
        } catch is LimitedMemorySink.LimitExceeded {
            throw FirmwareError(
                .tooLarge,
                "\(what) \(url): the answer is larger than the limit of \(limit) bytes; it was refused without "
                    + "reading the rest")
        }
        guard (200..<300).contains(response.status) else {
            throw FirmwareHTTP.statusError(response, url: url, what: what, notFoundHint: notFoundHint)
        }
        return sink.bytes
    }
}

/// The two bodies a feed check downloads, not yet verified.
public struct FetchedFeed: Sendable {
    /// The body served at `feed_url`.
    public var feed: [UInt8]
    /// The body served at `feed_url + ".minisig"`.
    public var signature: [UInt8]
}
