import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatFirmware
import Testing

/// `FeedFetcher` against a real HTTPS server (firmware_server.py) through libcurl, with feeds signed
/// by the real minisign CLI.
@Suite struct FeedFetcherTests {
    static let now = FeedPolicyTests.now

    let key: MinisignCLIKey
    let server: FirmwareTestServer

    init() throws {
        key = try MinisignCLIKey()
        server = try FirmwareTestServer()
    }

    static let feed = FeedPolicyTests.feed(releases: [
        FeedPolicyTests.release("37.12.0.40"), FeedPolicyTests.release("37.12.0.44"),
    ])

    func policy(key: MinisignCLIKey? = nil, allowInsecure: Bool = false) throws -> FeedPolicy {
        FeedPolicy(
            publicKey: try (key ?? self.key).publicKey(), product: "asterisk-pbx", channel: "stable",
            maximumImageSize: 100 << 20, allowInsecure: allowInsecure)
    }

    func fetcher(
        on server: FirmwareTestServer? = nil, caFile: String?? = .none, policy: FeedPolicy? = nil,
        stallTimeout: Double = 30, totalTimeout: Double = 120
    ) throws -> FeedFetcher {
        let server = server ?? self.server
        return try FeedFetcher(
            feedURL: server.url("feed.json"), policy: policy ?? self.policy(),
            caFile: caFile ?? server.caFile, connectTimeout: 5, stallTimeout: stallTimeout,
            totalTimeout: totalTimeout)
    }

    /// Serves `feed` and its signature by `signer` (the suite's key by default).
    func publish(_ feed: [UInt8], signedBy signer: MinisignCLIKey? = nil, on server: FirmwareTestServer? = nil) throws {
        let server = server ?? self.server
        try server.put("feed.json", feed)
        try server.put("feed.json.minisig", Array((signer ?? key).sign(feed, trustedComment: "stable feed").utf8))
    }

    func refusal(_ fetcher: FeedFetcher) throws -> FirmwareError {
        try #require(throws: FirmwareError.self) {
            try fetcher.check(now: Self.now, highestSeen: nil, current: FirmwareVersion("37.12.0.40"))
        }
    }

    @Test func goodFeedOverHTTPSWithCAFileOffersTheNewRelease() throws {
        defer { key.remove() }
        try publish(Self.feed)
        let fetcher = try fetcher()
        #expect(fetcher.signatureURL == server.url("feed.json.minisig"))
        let result = try fetcher.check(
            now: Self.now, highestSeen: FirmwareVersion("37.12.0.40"), current: FirmwareVersion("37.12.0.40"))
        #expect(result.available?.version.text == "37.12.0.44")
        #expect(result.highestSeen?.text == "37.12.0.44")
        #expect(result.trustedComment == "stable feed")
        let log = try server.log()
        #expect(log.map(\.path) == ["/feed.json", "/feed.json.minisig"])
        #expect(log.allSatisfy { $0.method == "GET" && $0.status == 200 && $0.range == nil })

        let fetched = try fetcher.fetch()
        #expect(fetched.feed == Self.feed, "the body arrives byte for byte")
    }

    @Test func aTamperedByteIsRefused() throws {
        defer { key.remove() }
        try publish(Self.feed)
        var tampered = Self.feed
        let index = try #require(tampered.firstIndex(of: UInt8(ascii: "4")))  // in "37.12.0.40"
        tampered[index] = UInt8(ascii: "9")
        try server.put("feed.json", tampered)
        let error = try refusal(fetcher())
        #expect(error.code == .badSignature)
        #expect(error.underlying is MinisignError)
    }

    @Test func aFeedSignedByAnotherKeyIsRefused() throws {
        defer { key.remove() }
        let stranger = try MinisignCLIKey()
        defer { stranger.remove() }
        try publish(Self.feed, signedBy: stranger)
        let error = try refusal(fetcher())
        #expect(error.code == .badSignature)
        #expect(error.message.contains(try stranger.printedKeyID()), "names the key that signed: \(error.message)")
    }

    @Test func aMissingSignatureIsRefused() throws {
        defer { key.remove() }
        try publish(Self.feed)
        server.remove("feed.json.minisig")
        let error = try refusal(fetcher())
        #expect(error.code == .notFound)
        #expect(error.message.contains(server.url("feed.json.minisig")), "\(error.message)")
        #expect(error.message.contains("404"), "\(error.message)")
        #expect(error.message.contains(".minisig"), "\(error.message)")
        #expect(!error.code.isRetryable)
    }

    @Test func anOversizedFeedIsRefusedWithoutReadingItAll() throws {
        defer { key.remove() }
        let size = 24 << 20
        try server.put("feed.json", SecureRandom.bytes(size))
        try server.put("feed.json.minisig", Array(try key.sign(Self.feed).utf8))
        let error = try refusal(fetcher())
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("\(FeedPolicy.defaultMaximumFeedSize)"), "names the limit: \(error.message)")
        #expect(error.message.contains(server.url("feed.json")), "\(error.message)")
        let log = try server.log()
        #expect(log.map(\.path) == ["/feed.json"], "the signature is not fetched after a refused feed")
        #expect(log[0].bodyBytes < Int64(size / 2), "abandoned early, not read to its end: \(log[0].bodyBytes)")
    }

    @Test func anOversizedSignatureIsRefused() throws {
        defer { key.remove() }
        try server.put("feed.json", Self.feed)
        try server.put("feed.json.minisig", Array(repeating: UInt8(ascii: "A"), count: 5000))
        let error = try refusal(fetcher())
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("4096"), "names the 4 KiB limit: \(error.message)")
        #expect(error.message.contains(".minisig"), "\(error.message)")
    }

    @Test func plainHTTPIsRefusedWithoutAllowInsecure() throws {
        defer { key.remove() }
        let plain = try FirmwareTestServer(tls: false)
        try publish(Self.feed, on: plain)
        let error = try #require(throws: FirmwareError.self) {
            try fetcher(on: plain, caFile: .some(nil))
        }
        #expect(error.code == .invalidURL)
        #expect(error.message.contains("allow_insecure"), "\(error.message)")
        #expect(error.message.contains("firmware.feed_url"), "\(error.message)")
        #expect(try plain.log().isEmpty, "nothing was fetched")

        // The same server is fine once the operator allows it.
        let allowed = try fetcher(on: plain, caFile: .some(nil), policy: policy(allowInsecure: true))
        let result = try allowed.check(now: Self.now, highestSeen: nil, current: nil)
        #expect(result.available?.version.text == "37.12.0.44")
    }

    @Test func feedURLsWithCredentialsOrOtherSchemesAreRefused() throws {
        defer { key.remove() }
        for url in [
            "https://user:secret@updates.example.com/feed.json", "ftp://updates.example.com/feed.json",
            "updates.example.com/feed.json", "https://updates.example.com/feed.json#x",
        ] {
            let error = try #require(throws: FirmwareError.self) {
                try FeedFetcher(feedURL: url, policy: policy())
            }
            #expect(error.code == .invalidURL, "\(url)")
            #expect(!error.message.contains("secret"), "credentials are never repeated: \(error.message)")
        }
    }

    @Test func anUntrustedCertificateIsRefused() throws {
        defer { key.remove() }
        try publish(Self.feed)
        let withoutCAFile = try refusal(fetcher(caFile: .some(nil)))
        #expect(withoutCAFile.code == .tls)
        #expect(withoutCAFile.message.contains("set ca_file"), "\(withoutCAFile.message)")
        #expect(withoutCAFile.message.contains(server.url("feed.json")), "\(withoutCAFile.message)")

        let otherCA = try refusal(fetcher(caFile: server.strangerCAFile))
        #expect(otherCA.code == .tls)
        #expect(otherCA.message.contains(server.strangerCAFile), "\(otherCA.message)")
        #expect(try server.log().isEmpty, "no request was sent over an unverified connection")
    }

    @Test(arguments: [
        (500, FirmwareError.Code.unavailable), (503, .unavailable), (429, .unavailable), (403, .httpStatus),
        (301, .httpStatus), (404, .notFound),
    ])
    func errorAnswersNameTheStatusAndTheURL(status: Int, code: FirmwareError.Code) throws {
        defer { key.remove() }
        try publish(Self.feed)
        try server.addFaults([["path": "/feed.json", "status": status, "body": "went wrong here"]])
        let error = try refusal(fetcher())
        #expect(error.code == code)
        #expect(error.code.isRetryable == (code == .unavailable))
        #expect(error.message.contains("answered \(status)"), "\(error.message)")
        #expect(error.message.contains(server.url("feed.json")), "\(error.message)")
        #expect(error.message.contains("went wrong here"), "quotes the server's answer: \(error.message)")
    }

    @Test func aStalledServerTimesOut() throws {
        defer { key.remove() }
        try server.put("feed.json", Self.feed + Array(repeating: UInt8(ascii: " "), count: 100_000))
        try server.addFaults([["path": "/feed.json", "stall_after": 1000, "stall": 60]])
        let started = Date()
        // libcurl averages the speed over the last few seconds: the burst before the stall delays the
        // timeout by about five seconds.
        let error = try refusal(fetcher(stallTimeout: 2))
        #expect(error.code == .unavailable)
        #expect(error.code.isRetryable)
        #expect(Date().timeIntervalSince(started) < 30, "gave up after the stall timeout, not the server's stall")
        #expect(error.message.contains(server.url("feed.json")), "\(error.message)")
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        defer { key.remove() }
        try publish(Self.feed)
        try server.addFaults([["path": "/feed.json", "delay": 60]])
        let started = Date()
        let error = try refusal(fetcher(stallTimeout: 2))
        #expect(error.code == .unavailable)
        #expect(Date().timeIntervalSince(started) < 30, "\(Date().timeIntervalSince(started)) s")
    }

    @Test func aTricklingServerHitsTheTotalTimeout() throws {
        defer { key.remove() }
        try server.put("feed.json", Self.feed + Array(repeating: UInt8(ascii: " "), count: 100_000))
        // Ten bytes, then a pause shorter than the stall timeout: only the total timeout ends it.
        try server.addFaults([["path": "/feed.json", "stall_after": 10, "stall": 1.5]])
        let started = Date()
        let error = try refusal(fetcher(stallTimeout: 30, totalTimeout: 1))
        #expect(error.code == .unavailable)
        #expect(error.message.contains("did not finish within 1s"), "\(error.message)")
        #expect(Date().timeIntervalSince(started) < 30)
    }
}
