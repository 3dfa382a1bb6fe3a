import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatFirmware
import Testing

/// `FeedPolicy.check` on feeds signed by the real minisign CLI.
@Suite struct FeedPolicyTests {
    static let now = Timestamp.parseISO8601("2026-11-25T12:00:00Z")!
    static let digest = String(repeating: "ab", count: 32)

    let key: MinisignCLIKey

    init() throws { key = try MinisignCLIKey() }

    /// A release object as the feed JSON spells it.
    static func release(
        _ version: String, size: Int64 = 73_400_320, sha256: String = digest, url: String? = nil
    ) -> String {
        let url = url ?? "https://updates.example.com/pbx-\(version).img"
        return #"{"version": "\#(version)", "url": "\#(url)", "size": \#(size), "sha256": "\#(sha256)", "notes": "n"}"#
    }

    static func feed(
        product: String = "asterisk-pbx", channel: String = "stable", issued: String = "2026-11-20T00:00:00Z",
        expires: String = "2026-12-20T00:00:00Z", releases: [String]
    ) -> [UInt8] {
        Array(
            #"{"product": "\#(product)", "channel": "\#(channel)", "issued": "\#(issued)", "expires": "\#(expires)", "#
                .utf8) + Array(#""releases": [\#(releases.joined(separator: ", "))]}"#.utf8)
    }

    func policy(maximumFeedAge: Int64? = nil, allowInsecure: Bool = false) throws -> FeedPolicy {
        FeedPolicy(
            publicKey: try key.publicKey(), product: "asterisk-pbx", channel: "stable",
            maximumImageSize: 100 << 20, maximumFeedAge: maximumFeedAge, allowInsecure: allowInsecure)
    }

    /// Signs `feed` with the suite's key and checks it.
    func check(
        _ feed: [UInt8], policy: FeedPolicy? = nil, highestSeen: String? = nil, current: String? = nil
    ) throws -> FeedCheck {
        let signature = try key.sign(feed, trustedComment: "stable feed")
        return try (policy ?? self.policy()).check(
            feed: feed, signature: Array(signature.utf8), now: Self.now,
            highestSeen: highestSeen.map { try FirmwareVersion($0) }, current: current.map { try FirmwareVersion($0) })
    }

    /// Signs and checks `feed`, expecting a refusal.
    func refusal(
        _ feed: [UInt8], policy: FeedPolicy? = nil, highestSeen: String? = nil, current: String? = nil
    ) throws -> FirmwareError {
        try #require(throws: FirmwareError.self) {
            try check(feed, policy: policy, highestSeen: highestSeen, current: current)
        }
    }

    @Test func goodFeedOffersTheNewestReleaseAboveTheCurrentVersion() throws {
        defer { key.remove() }
        let feed = Self.feed(releases: [Self.release("37.12.0.40"), Self.release("37.12.0.44"), Self.release("37.11")])
        let result = try check(feed, highestSeen: "37.12.0.40", current: "37.12.0.40")
        #expect(result.available?.version.text == "37.12.0.44")
        #expect(result.available?.url == "https://updates.example.com/pbx-37.12.0.44.img")
        #expect(result.available?.size == 73_400_320)
        #expect(result.highestSeen?.text == "37.12.0.44")
        #expect(result.trustedComment == "stable feed")
        #expect(result.feed.product == "asterisk-pbx")
        #expect(result.feed.expires == Timestamp.parseISO8601("2026-12-20T00:00:00Z"))

        let fresh = try check(feed)
        #expect(fresh.available?.version.text == "37.12.0.44", "no current version and nothing seen: the newest")
    }

    @Test func currentVersionEqualToTheNewestIsUpToDate() throws {
        defer { key.remove() }
        let feed = Self.feed(releases: [Self.release("37.12.0.44"), Self.release("37.11")])
        let result = try check(feed, highestSeen: "37.12.0.44", current: "37.12.0.44")
        #expect(result.available == nil)
        #expect(result.highestSeen?.text == "37.12.0.44")
        #expect(try check(feed, current: "38.0").available == nil, "newer than the feed: up to date")
        #expect(try check(Self.feed(releases: [])).available == nil)
    }

    @Test func expiredFeedIsRefused() throws {
        defer { key.remove() }
        let error = try refusal(
            Self.feed(issued: "2026-10-01T00:00:00Z", expires: "2026-11-25T11:59:59Z", releases: [Self.release("38")]))
        #expect(error.code == .expired)
        #expect(error.message.contains("2026-11-25T11:59:59Z"))
    }

    @Test func feedOlderThanTheMaximumAgeIsRefused() throws {
        defer { key.remove() }
        let feed = Self.feed(issued: "2026-11-20T00:00:00Z", releases: [Self.release("38")])
        let error = try refusal(feed, policy: policy(maximumFeedAge: 86_400))
        #expect(error.code == .stale)
        #expect(error.message.contains("2026-11-20T00:00:00Z"))
        #expect(try check(feed, policy: policy(maximumFeedAge: 7 * 86_400)).available != nil)
    }

    @Test func feedIssuedInTheFutureIsRefusedBeyondTheSkew() throws {
        defer { key.remove() }
        let error = try refusal(Self.feed(issued: "2026-11-25T12:10:00Z", releases: [Self.release("38")]))
        #expect(error.code == .issuedInFuture)
        #expect(try check(Self.feed(issued: "2026-11-25T12:04:00Z", releases: [Self.release("38")])).available != nil)
    }

    @Test func productMismatchIsRefusedNamingBoth() throws {
        defer { key.remove() }
        let error = try refusal(Self.feed(product: "other-pbx", releases: [Self.release("38")]))
        #expect(error.code == .productMismatch)
        #expect(error.message.contains("\"other-pbx\"") && error.message.contains("\"asterisk-pbx\""))
    }

    @Test func channelMismatchIsRefusedNamingBoth() throws {
        defer { key.remove() }
        let error = try refusal(Self.feed(channel: "beta", releases: [Self.release("38")]))
        #expect(error.code == .channelMismatch)
        #expect(error.message.contains("\"beta\"") && error.message.contains("\"stable\""))
    }

    @Test func feedBelowTheHighestVersionSeenIsRefusedAsRollback() throws {
        defer { key.remove() }
        let feed = Self.feed(releases: [Self.release("37.12.0.40"), Self.release("37.12.0.44")])
        let error = try refusal(feed, highestSeen: "37.12.0.45", current: "37.12.0.40")
        #expect(error.code == .rollback)
        #expect(error.message.contains("37.12.0.44") && error.message.contains("37.12.0.45"))
        // The same version seen before is no rollback.
        #expect(
            try check(feed, highestSeen: "37.12.0.44", current: "37.12.0.40").available?.version.text == "37.12.0.44")
    }

    @Test func releaseOverTheSizeLimitIsRefused() throws {
        defer { key.remove() }
        let error = try refusal(Self.feed(releases: [Self.release("38", size: (100 << 20) + 1)]))
        #expect(error.code == .imageTooLarge)
        #expect(error.message.contains("\(104_857_601)") && error.message.contains("\(104_857_600)"))
        #expect(try check(Self.feed(releases: [Self.release("38", size: 100 << 20)])).available != nil)
    }

    static let badDigests = [
        String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "g", count: 64), "",
        "…",
    ]

    @Test(arguments: badDigests)
    func malformedSHA256IsRefused(sha256: String) throws {
        defer { key.remove() }
        let error = try refusal(Self.feed(releases: [Self.release("38", sha256: sha256)]))
        #expect(error.code == .invalidRelease)
        #expect(error.message.contains("not 64 hex digits"))
    }

    @Test func plainHTTPURLIsRefusedUnlessInsecureIsAllowed() throws {
        defer { key.remove() }
        let feed = Self.feed(releases: [Self.release("38", url: "http://updates.example.com/pbx-38.img")])
        let error = try refusal(feed)
        #expect(error.code == .invalidRelease)
        #expect(error.message.contains("http://updates.example.com/pbx-38.img"))
        #expect(try check(feed, policy: policy(allowInsecure: true)).available?.version.text == "38")
        for url in ["ftp://updates.example.com/pbx-38.img", "file:///tmp/pbx-38.img", "pbx-38.img", "https://"] {
            let other = try refusal(
                Self.feed(releases: [Self.release("38", url: url)]), policy: policy(allowInsecure: true))
            #expect(other.code == .invalidRelease, "\(url)")
        }
    }

    @Test func duplicateVersionIsRefused() throws {
        defer { key.remove() }
        let error = try refusal(Self.feed(releases: [Self.release("38.0"), Self.release("38")]))
        #expect(error.code == .invalidRelease)
        #expect(error.message.contains("more than once"))
    }

    @Test func oversizeBodiesAreRefusedBeforeParsing() throws {
        defer { key.remove() }
        let big = [UInt8](repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
        let error = try #require(throws: FirmwareError.self) {
            try policy().check(
                feed: big, signature: Array("garbage".utf8), now: Self.now, highestSeen: nil, current: nil)
        }
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("feed is 1048577 bytes"))

        let feed = Self.feed(releases: [])
        let signature = Array(try key.sign(feed).utf8) + [UInt8](repeating: UInt8(ascii: "\n"), count: 4 << 10)
        let sigError = try #require(throws: FirmwareError.self) {
            try policy().check(feed: feed, signature: signature, now: Self.now, highestSeen: nil, current: nil)
        }
        #expect(sigError.code == .tooLarge)
        #expect(sigError.message.contains("signature"))
    }

    @Test func signatureIsCheckedBeforeTheFeedIsParsed() throws {
        defer { key.remove() }
        let notJSON = Array("this is not JSON at all".utf8)
        let other = try MinisignCLIKey()
        defer { other.remove() }

        // Signed by another key: refused for the signature, not for the JSON.
        let foreign = try #require(throws: FirmwareError.self) {
            try policy().check(
                feed: notJSON, signature: Array(other.sign(notJSON).utf8), now: Self.now, highestSeen: nil,
                current: nil)
        }
        #expect(foreign.code == .badSignature)
        #expect((foreign.underlying as? MinisignError)?.code == .keyMismatch)

        // Signed by the right key over other bytes: refused for the signature.
        let mismatched = try #require(throws: FirmwareError.self) {
            try policy().check(
                feed: notJSON, signature: Array(key.sign(Self.feed(releases: [])).utf8), now: Self.now,
                highestSeen: nil, current: nil)
        }
        #expect(mismatched.code == .badSignature)
        #expect((mismatched.underlying as? MinisignError)?.code == .badSignature)

        // Garbage signature: refused for the signature.
        let garbage = try #require(throws: FirmwareError.self) {
            try policy().check(
                feed: notJSON, signature: Array("nope".utf8), now: Self.now, highestSeen: nil, current: nil)
        }
        #expect(garbage.code == .badSignature)
        #expect(garbage.message.contains("4 lines"))

        // Correctly signed: only now is the JSON looked at.
        #expect(try refusal(notJSON).code == .malformedFeed)
    }

    @Test func tamperedFeedIsRefused() throws {
        defer { key.remove() }
        let feed = Self.feed(releases: [Self.release("38")])
        let signature = try key.sign(feed)
        var tampered = feed
        let index = try #require(tampered.firstIndex(of: UInt8(ascii: "3")))
        tampered[index] = UInt8(ascii: "9")
        let error = try #require(throws: FirmwareError.self) {
            try policy().check(
                feed: tampered, signature: Array(signature.utf8), now: Self.now, highestSeen: nil, current: nil)
        }
        #expect(error.code == .badSignature)
    }

    @Test func malformedSignedFeedNamesWhatIsWrong() throws {
        defer { key.remove() }
        let missing = try refusal(Array(#"{"product": "asterisk-pbx", "channel": "stable", "releases": []}"#.utf8))
        #expect(missing.code == .malformedFeed)
        #expect(missing.message.contains("\"issued\" is missing"), "\(missing.message)")

        let badVersion = try refusal(Self.feed(releases: [Self.release("latest")]))
        #expect(badVersion.code == .malformedFeed)
        #expect(badVersion.message.contains("\"latest\" is not a version"), "\(badVersion.message)")

        let badTime = try refusal(Self.feed(issued: "yesterday", releases: []))
        #expect(badTime.code == .malformedFeed)
        #expect(badTime.message.contains("\"yesterday\" is not an ISO 8601 time"), "\(badTime.message)")

        let backwards = try refusal(
            Self.feed(issued: "2026-11-21T00:00:00Z", expires: "2026-11-20T00:00:00Z", releases: []))
        #expect(backwards.code == .malformedFeed)
    }
}
