import Foundation
import LifeboatCore
import LifeboatCrypto

/// The app's login: the OAuth 2.0 client-credentials grant of the Microsoft identity platform,
/// with a client secret or a certificate (a client assertion).
extension SharePointStore: AccessTokenSource {
    /// How long a client assertion is valid (Microsoft recommends a few minutes).
    static let assertionLifetime: Int64 = 600

    /// A certificate and its key, read once when the store is made.
    struct CertificateCredential: @unchecked Sendable {
        // @unchecked: RSASigningKey is thread-safe (see its comment); the thumbprint is a value.
        var key: RSASigningKey
        /// `x5t#S256`: base64url of the SHA-256 of the certificate's DER.
        var thumbprint: String
        var certificateFile: String

        /// Reads a PEM certificate and an RSA private key; errors name the file and the problem.
        static func load(certificateFile: String, keyFile: String) throws -> CertificateCredential {
            guard let certificateText = try? String(contentsOfFile: certificateFile, encoding: .utf8) else {
                throw StoreError(.unauthorized, "cannot read client_certificate_file \(certificateFile)")
            }
            guard let der = pemBlock("CERTIFICATE", in: certificateText) else {
                throw StoreError(
                    .unauthorized,
                    "client_certificate_file \(certificateFile) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
            }
            guard let keyText = try? String(contentsOfFile: keyFile, encoding: .utf8) else {
                throw StoreError(.unauthorized, "cannot read client_certificate_key_file \(keyFile)")
            }
            let key: RSASigningKey
            do {
                key = try RSASigningKey(pem: keyText)
            } catch {
                throw StoreError(.unauthorized, "client_certificate_key_file \(keyFile): \(error)")
            }
            let thumbprint = JSONWebToken.base64URL(MessageDigest.hash(.sha256, der))
            return CertificateCredential(key: key, thumbprint: thumbprint, certificateFile: certificateFile)
        }

        /// The DER bytes of the first `-----BEGIN LABEL-----` block.
        static func pemBlock(_ label: String, in text: String) -> [UInt8]? {
            guard let begin = text.range(of: "-----BEGIN \(label)-----"),
                let end = text.range(of: "-----END \(label)-----", range: begin.upperBound..<text.endIndex)
            else { return nil }
            let body = text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
            return Data(base64Encoded: String(body)).map { Array($0) }
        }
    }

    /// Asks the token endpoint for an app-only Graph token.
    func fetchAccessToken() throws -> AccessToken {
        let configuration = configuration
        let what = "login of app \(configuration.clientID) at \(configuration.tokenURL)"
        var form = [
            ("grant_type", "client_credentials"), ("client_id", configuration.clientID),
            ("scope", SharePointStoreConfiguration.graphScope),
        ]
        switch configuration.credential {
        case .secret(let secret):
            form.append(("client_secret", secret.reveal()))
        case .certificate:
            guard let certificate else { throw StoreError(.io, "\(self): the certificate was not loaded") }
            let assertion: String
            do {
                assertion = try clientAssertion(certificate).signed(with: certificate.key)
            } catch {
                throw StoreError(
                    .unauthorized, "\(self): \(what) failed: signing the client assertion failed: \(error)")
            }
            form.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            form.append(("client_assertion", assertion))
        }
        var request = HTTPRequest(
            "POST", configuration.tokenURL,
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")])
        request.body = .bytes(Array(URIEncoding.query(form).utf8))
        let response = try http.send(request, what: what)
        let answer = GraphJSON.tokenAnswer(response.body)
        if response.status == 200, let token = answer?.accessToken, !token.isEmpty {
            logger?.debug(
                "Access token obtained", metadata: ["store": "\(name)", "expires_in": "\(answer?.expiresIn ?? 0)"])
            return AccessToken(value: Secret(token), lifetime: answer?.expiresIn ?? 3600)
        }
        if response.status == 200 {
            throw StoreError(.io, "\(self): \(what) failed: the answer holds no access_token")
        }
        var reason = "HTTP \(response.status)"
        if let error = answer?.error {
            reason += " \(error)"
            if let description = answer?.errorDescription { reason += ": " + Self.firstSentences(description) }
        } else if !response.body.isEmpty {
            reason += ": \(HTTPFailure.excerpt(response.body))"
        }
        let code = HTTPFailure.code(for: response.status)
        if code == .unavailable || response.status >= 500 {
            throw StoreError(
                .unavailable, "\(self): \(what) failed: \(reason)", retryAfter: HTTPFailure.retryAfter(response))
        }
        throw StoreError(
            .unauthorized,
            "\(self): the identity platform refused the login of app \(configuration.clientID) in tenant "
                + "\(configuration.tenantID): \(reason)\(loginHint(answer?.errorCodes ?? []))")
    }

    /// What to do about an AADSTS error, by its number.
    private func loginHint(_ codes: [Int]) -> String {
        let certificateFile: String
        if case .certificate(let file, _) = configuration.credential {
            certificateFile = file
        } else {
            certificateFile = ""
        }
        for code in codes {
            switch code {
            case 7_000_215:
                return "; check client_secret: it must be the secret's value (shown once when it was created), "
                    + "not its ID"
            case 7_000_222:
                return "; the client secret has expired: create a new one in the app registration"
            case 700_016:
                return "; check client_id and tenant_id: no app with this ID is registered in the tenant"
            case 90_002, 900_023:
                return "; check tenant_id"
            case 700_027:
                return "; the certificate in \(certificateFile) is not one registered for the app, or the key does "
                    + "not belong to it: upload the certificate to the app registration (Certificates & secrets)"
            case 700_024:
                return "; the clock of this machine is wrong: fix the time (NTP)"
            case 1_002_012, 70_011:
                return "; the scope was refused"
            case 7_000_218:
                return "; give client_secret or client_certificate_file"
            default:
                continue
            }
        }
        return ""
    }

    /// The unsigned client assertion (Microsoft's certificate credentials): `x5t#S256` names the
    /// certificate; `aud` is the token endpoint; valid for a few minutes; a fresh `jti` each time.
    func clientAssertion(_ certificate: CertificateCredential) -> JSONWebToken {
        let issued = Int64(now().timeIntervalSince1970)
        return JSONWebToken(
            header: [("x5t#S256", .string(certificate.thumbprint))],
            claims: [
                ("aud", .string(configuration.tokenURL)), ("iss", .string(configuration.clientID)),
                ("sub", .string(configuration.clientID)), ("jti", .string(UUID().uuidString.lowercased())),
                ("nbf", .integer(issued)), ("iat", .integer(issued)),
                ("exp", .integer(issued + Self.assertionLifetime)),
            ])
    }

    /// An `error_description` without its trace and correlation IDs and timestamp.
    static func firstSentences(_ description: String) -> String {
        var text = description
        for marker in ["\r\n", "\n", " Trace ID:"] {
            if let range = text.range(of: marker) { text = String(text[..<range.lowerBound]) }
        }
        return text.trimmingCharacters(in: .whitespaces)
    }
}
