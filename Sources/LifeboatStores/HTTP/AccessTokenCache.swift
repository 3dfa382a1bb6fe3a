import Foundation
import LifeboatCurl
import Logging
import LifeboatCore

#if canImport(Glibc)
    import Glibc
#endif

/// An OAuth 2.0 bearer token as a token endpoint issued it.
struct AccessToken: Sendable {
    var value: Secret
    /// Seconds it stays valid from when it was issued (`expires_in`).
    var lifetime: Double
}

/// Holds one bearer token for all the transfers of a store and gets a new one before it runs out.
///
/// How a token is obtained is the store's business (a closure): a Google service-account JWT, a
/// Microsoft client assertion or client secret. The cache refreshes when less than
/// `min(refreshMargin, lifetime / 2)` is left, so a token is never sent in its last minutes and a
/// short-lived one is not fetched on every call. One fetch runs at a time: parallel transfers that
/// need a token meanwhile wait for it instead of each asking the endpoint. When a refresh fails while
/// the current token is still valid, the current one is used and the next call tries again.
///
/// A server that answers 401 to a token it should have accepted (revoked, or expired early) calls for
/// ``invalidate(_:)``; the next ``token()`` fetches a new one.
final class AccessTokenCache: @unchecked Sendable {
    // @unchecked: `current` is only read and written under `lock`; `fetch` and `now` are Sendable.
    typealias Fetch = @Sendable () throws -> AccessToken

    /// Refresh when less than this many seconds are left (or half the lifetime, if that is less).
    let refreshMargin: Double
    private let fetch: Fetch
    private let now: @Sendable () -> Double
    private let lock = NSLock()
    private var current: (token: Secret, expires: Double, refreshAt: Double)?

    /// `now` is a monotonic clock in seconds (tests pass their own).
    init(
        refreshMargin: Double = 300, now: @escaping @Sendable () -> Double = AccessTokenCache.monotonicSeconds,
        fetch: @escaping Fetch
    ) {
        self.refreshMargin = refreshMargin
        self.now = now
        self.fetch = fetch
    }

    /// A cache that asks `owner` for new tokens, holding it weakly (the owner holds the cache); once
    /// the owner is gone a fetch fails naming it. Call ``attach(_:)`` at the end of the owner's init.
    convenience init(refreshMargin: Double, ownerName: String) {
        let box = WeakTokenSource()
        self.init(refreshMargin: refreshMargin) { [box] in
            guard let source = box.source else { throw StoreError(.io, "\(ownerName) is gone") }
            return try source.fetchAccessToken()
        }
        weakSource = box
    }

    private var weakSource: WeakTokenSource?

    /// Connects a cache made with ``init(refreshMargin:ownerName:)`` to its owner.
    func attach(_ source: any AccessTokenSource) {
        weakSource?.source = source
    }

    /// A token that is valid for a while yet, fetching one when needed.
    func token() throws -> Secret {
        try lock.withLock {
            let time = now()
            if let current, time < current.refreshAt { return current.token }
            do {
                let fresh = try fetch()
                let issued = now()
                let lifetime = max(0, fresh.lifetime)
                current = (fresh.value, issued + lifetime, issued + lifetime - min(refreshMargin, lifetime / 2))
                return fresh.value
            } catch {
                // An early refresh that failed: the token in hand still works.
                if let current, now() < current.expires - 5 { return current.token }
                throw error
            }
        }
    }

    /// Forgets `token` if it is the one held, so that the next ``token()`` fetches a new one; a token
    /// that another transfer has replaced already is left alone.
    func invalidate(_ token: Secret) {
        lock.withLock {
            if current?.token == token { current = nil }
        }
    }

    /// Seconds on a clock that never jumps (CLOCK_MONOTONIC).
    @Sendable static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// A store that can fetch a new access token (from its token endpoint).
protocol AccessTokenSource: AnyObject, Sendable {
    func fetchAccessToken() throws -> AccessToken
}

private final class WeakTokenSource: @unchecked Sendable {
    // @unchecked: set once, in the owner's init, before the cache can call its closure.
    weak var source: (any AccessTokenSource)?
}

extension HTTPClient {
    /// Sends `request` with a bearer token from `tokens`. After a 401 the token is dropped and the
    /// request sent once more with a new one (a token can be revoked or expire early); the second
    /// answer stands.
    func send(
        _ request: HTTPRequest, what: String, authorizedBy tokens: AccessTokenCache, store: String, logger: Logger?
    ) throws -> CurlResponse {
        var retried = false
        while true {
            let token = try tokens.token()
            var authorized = request
            authorized.headers.append(("Authorization", "Bearer " + token.reveal()))
            let response = try send(authorized, what: what)
            guard response.status == 401, !retried else { return response }
            logger?.notice(
                "Access token refused; getting a new one", metadata: ["store": "\(store)", "operation": "\(what)"])
            tokens.invalidate(token)
            retried = true
        }
    }
}
