import Foundation
import LifeboatCore

extension GCSStore: AccessTokenSource {
    /// How long the JWT assertion asks the token to last (Google's maximum).
    static let assertionLifetime: Int64 = 3600

    /// The service account's login (RFC 7523 JWT-bearer grant, as Google documents for service
    /// accounts): an RS256 JWT naming the account, the scope and the token URI, traded for an
    /// access token.
    func fetchAccessToken() throws -> AccessToken {
        let account = configuration.credentials
        let what = "login of \(account.clientEmail) at \(account.tokenURI)"
        let assertion: String
        do {
            assertion = try loginAssertion().signed(with: signingKey)
        } catch {
            throw StoreError(.unauthorized, "\(self): \(what) failed: signing the assertion failed: \(error)")
        }
        var request = HTTPRequest(
            "POST", account.tokenURI,
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")])
        request.body = .bytes(
            Array(
                URIEncoding.query([
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
                ]).utf8))
        let response = try http.send(request, what: what)
        let answer = GCSJSON.tokenAnswer(response.body)
        if response.status == 200, let token = answer?.accessToken, !token.isEmpty {
            logger?.debug(
                "Access token obtained", metadata: ["store": "\(name)", "expires_in": "\(answer?.expiresIn ?? 0)"])
            return AccessToken(value: Secret(token), lifetime: answer?.expiresIn ?? 3600)
        }
        var reason = "HTTP \(response.status)"
        if let error = answer?.error {
            reason += ": \(error)" + (answer?.errorDescription.map { " (\($0))" } ?? "")
        } else if !response.body.isEmpty {
            reason += ": \(HTTPFailure.excerpt(response.body))"
        }
        switch response.status {
        case 200:
            throw StoreError(.io, "\(self): \(what) failed: the answer holds no access_token")
        case 400, 401, 403:
            throw StoreError(
                .unauthorized,
                "\(self): the token endpoint refused the login of \(account): \(reason); check that this key "
                    + "of the service account still exists (a key deleted in the Cloud console stops working at "
                    + "once) and that the clock of this machine is right")
        default:
            let code = HTTPFailure.code(for: response.status)
            throw StoreError(
                code == .unavailable ? .unavailable : .io, "\(self): \(what) failed: \(reason)",
                retryAfter: HTTPFailure.retryAfter(response))
        }
    }

    /// The unsigned JWT: `kid` names the key, `aud` is the token URI, valid for an hour from now.
    func loginAssertion() -> JSONWebToken {
        let account = configuration.credentials
        let issued = Int64(now().timeIntervalSince1970)
        var header: [(name: String, value: JSONWebToken.Value)] = []
        if let kid = account.privateKeyID, !kid.isEmpty { header.append(("kid", .string(kid))) }
        return JSONWebToken(
            header: header,
            claims: [
                ("iss", .string(account.clientEmail)), ("scope", .string(configuration.scope)),
                ("aud", .string(account.tokenURI)), ("iat", .integer(issued)),
                ("exp", .integer(issued + Self.assertionLifetime)),
            ])
    }
}
