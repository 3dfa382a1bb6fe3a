import Foundation
import LifeboatCore
import LifeboatCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// A Google service account, as the JSON key file the Cloud console gives out describes it
/// (`"type": "service_account"`).
///
/// Its description names the account and the file, never the key; so do the errors of loading it.
public struct GCSServiceAccount: Sendable, CustomStringConvertible {
    /// `client_email`: the account, `NAME@PROJECT.iam.gserviceaccount.com`.
    public var clientEmail: String
    /// `private_key`: the account's RSA key, PEM.
    public var privateKey: Secret
    /// `private_key_id`: sent as the JWT's `kid`, so Google picks the right public key.
    public var privateKeyID: String?
    /// `token_uri`: the OAuth 2.0 token endpoint (`https://oauth2.googleapis.com/token`).
    public var tokenURI: String
    /// The file it was read from, for messages; nil when built in code.
    public var file: String?

    public init(
        clientEmail: String, privateKey: Secret, privateKeyID: String? = nil, tokenURI: String, file: String? = nil
    ) {
        self.clientEmail = clientEmail
        self.privateKey = privateKey
        self.privateKeyID = privateKeyID
        self.tokenURI = tokenURI
        self.file = file
    }

    public var description: String {
        "service account \(clientEmail)" + (file.map { " (\($0))" } ?? "")
    }

    /// Reads a service-account key file. The file holds a private key: one that group or others may
    /// read is refused.
    public static func load(file: String) throws -> GCSServiceAccount {
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw StoreError(.io, "gcs credentials file \(file) cannot be read: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & 0o044) == 0 else {
            throw StoreError(
                .unauthorized,
                "gcs credentials file \(file) is readable by group or others (mode "
                    + "\(String(st.st_mode & 0o777, radix: 8))) and holds a private key; run chmod 600 \(file)")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw StoreError(.io, "gcs credentials file \(file) cannot be read")
        }
        return try parse(Array(data), file: file)
    }

    /// Parses the JSON of a service-account key file; `file` names it in errors.
    public static func parse(_ json: [UInt8], file: String) throws -> GCSServiceAccount {
        func failure(_ problem: String) -> StoreError {
            StoreError(.unauthorized, "gcs credentials file \(file): \(problem)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)), let fields = object as? [String: Any]
        else {
            throw failure("not a JSON object; expected a service-account key file from the Google Cloud console")
        }
        if let type = fields["type"] as? String, type != "service_account" {
            throw failure(
                "\"type\" is \"\(type)\", not \"service_account\"; create a key for a service account "
                    + "(IAM → Service accounts → Keys → Add key → JSON)")
        }
        func required(_ key: String) throws -> String {
            guard let value = fields[key] else { throw failure("the field \"\(key)\" is missing") }
            guard let text = value as? String, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw failure("the field \"\(key)\" is not a non-empty string")
            }
            return text
        }
        let email = try required("client_email")
        let key = try required("private_key")
        let tokenURI = try required("token_uri")
        guard let url = URL(string: tokenURI), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw failure("the field \"token_uri\" is not an http(s) URL")
        }
        // Parse the key now, so a damaged file is reported when the store is made, not mid-backup.
        do {
            _ = try RSASigningKey(pem: key)
        } catch let error as CryptoError {
            throw failure("the field \"private_key\" is unusable: \(error)")
        }
        return GCSServiceAccount(
            clientEmail: email, privateKey: Secret(key), privateKeyID: fields["private_key_id"] as? String,
            tokenURI: tokenURI, file: file)
    }
}
