import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

@testable import LifeboatStores

@Suite struct JSONWebTokenTests {
    @Test func headerAndClaimsAreBase64URLJSONInOrder() throws {
        let token = JSONWebToken(
            header: [("kid", "k1")],
            claims: [
                ("iss", "a@b.iam.gserviceaccount.com"), ("aud", "https://oauth2.googleapis.com/token"),
                ("iat", 1_700_000_000),
            ])
        let parts = token.signingInput.split(separator: ".").map(String.init)
        try #require(parts.count == 2)
        #expect(
            String(decoding: try base64URLDecode(parts[0]), as: UTF8.self) == #"{"alg":"RS256","typ":"JWT","kid":"k1"}"#
        )
        #expect(
            String(decoding: try base64URLDecode(parts[1]), as: UTF8.self)
                == #"{"iss":"a@b.iam.gserviceaccount.com","aud":"https://oauth2.googleapis.com/token","iat":1700000000}"#
        )
        #expect(!token.signingInput.contains("="))
    }

    @Test func base64URLUsesTheURLAlphabetWithoutPadding() {
        #expect(JSONWebToken.base64URL([0xFB, 0xFF]) == "-_8")
        #expect(JSONWebToken.base64URL([]) == "")
        #expect(JSONWebToken.base64URL(Array("a".utf8)) == "YQ")
    }

    @Test func stringsAreEscaped() {
        #expect(JSONWebToken.json([("x#S256", "a\"b\\c\n\u{1}é")]) == "{\"x#S256\":\"a\\\"b\\\\c\\n\\u0001é\"}")
    }

    /// The signature checks out with the openssl CLI over `header.claims`.
    @Test func signatureVerifiesWithTheOpenSSLCLI() throws {
        let directory = NSTemporaryDirectory() + "lifeboat-jwt-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #require(
            try runTool([
                "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                directory + "/key.pem",
            ]) == 0)
        try #require(
            try runTool(["openssl", "pkey", "-in", directory + "/key.pem", "-pubout", "-out", directory + "/pub.pem"])
                == 0)
        let key = try RSASigningKey(pem: String(contentsOfFile: directory + "/key.pem", encoding: .utf8))
        let jwt = try JSONWebToken(claims: [("iss", "me"), ("exp", 1)]).signed(with: key)
        let parts = jwt.split(separator: ".").map(String.init)
        try #require(parts.count == 3)
        try Data((parts[0] + "." + parts[1]).utf8).write(to: URL(fileURLWithPath: directory + "/input"))
        try Data(try base64URLDecode(parts[2])).write(to: URL(fileURLWithPath: directory + "/signature"))
        let verify = [
            "openssl", "dgst", "-sha256", "-verify", directory + "/pub.pem", "-signature", directory + "/signature",
        ]
        #expect(try runTool(verify + [directory + "/input"]) == 0)
        try Data((parts[0] + "." + parts[1] + "x").utf8).write(to: URL(fileURLWithPath: directory + "/tampered"))
        #expect(try runTool(verify + [directory + "/tampered"]) != 0)
    }
}

@Suite struct AccessTokenCacheTests {
    /// A clock the test moves, and a fetch that counts its calls and hands out `t1`, `t2`, …
    final class Fixture: @unchecked Sendable {
        let lock = NSLock()
        var time = 0.0
        var fetches = 0
        var lifetime: Double
        var failing = false

        init(lifetime: Double) { self.lifetime = lifetime }

        func cache(margin: Double = 300) -> AccessTokenCache {
            AccessTokenCache(
                refreshMargin: margin, now: { self.lock.withLock { self.time } },
                fetch: {
                    try self.lock.withLock {
                        if self.failing { throw StoreError(.unavailable, "token endpoint down") }
                        self.fetches += 1
                        return AccessToken(value: Secret("t\(self.fetches)"), lifetime: self.lifetime)
                    }
                })
        }

        func at(_ time: Double) { lock.withLock { self.time = time } }
    }

    @Test func refreshesWhenLessThanTheMarginIsLeft() throws {
        let fixture = Fixture(lifetime: 3600)
        let cache = fixture.cache(margin: 300)
        #expect(try cache.token().reveal() == "t1")
        fixture.at(3299)
        #expect(try cache.token().reveal() == "t1")
        fixture.at(3301)
        #expect(try cache.token().reveal() == "t2")
        #expect(fixture.fetches == 2)
    }

    @Test func shortLivedTokensAreRefreshedAtHalfTheirLifetime() throws {
        let fixture = Fixture(lifetime: 60)
        let cache = fixture.cache(margin: 300)
        #expect(try cache.token().reveal() == "t1")
        fixture.at(29)
        #expect(try cache.token().reveal() == "t1")
        fixture.at(31)
        #expect(try cache.token().reveal() == "t2")
    }

    @Test func invalidateDropsOnlyTheTokenHeld() throws {
        let fixture = Fixture(lifetime: 3600)
        let cache = fixture.cache()
        let first = try cache.token()
        cache.invalidate(first)
        let second = try cache.token()
        #expect(second.reveal() == "t2")
        cache.invalidate(first)  // a late 401 for the old token leaves the new one alone
        #expect(try cache.token() == second)
        #expect(fixture.fetches == 2)
    }

    @Test func aFailedEarlyRefreshKeepsTheValidToken() throws {
        let fixture = Fixture(lifetime: 3600)
        let cache = fixture.cache(margin: 300)
        _ = try cache.token()
        fixture.lock.withLock { fixture.failing = true }
        fixture.at(3400)
        #expect(try cache.token().reveal() == "t1")
        fixture.at(3600)
        #expect(throws: StoreError.self) { try cache.token() }
    }

    @Test func parallelCallersShareOneFetch() async throws {
        let fetches = Counter()
        let cache = AccessTokenCache {
            fetches.increment()
            usleep(200_000)
            return AccessToken(value: Secret("shared"), lifetime: 3600)
        }
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask { try await Task.detached { try cache.token().reveal() }.value }
            }
            for try await token in group { #expect(token == "shared") }
        }
        #expect(fetches.value == 1)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func increment() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }
}

/// Runs a tool (looked up on PATH) with output discarded; returns its exit status.
func runTool(_ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// Decodes base64url without padding.
func base64URLDecode(_ text: String) throws -> [UInt8] {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Array(try #require(Data(base64Encoded: base64)))
}
