import Foundation
import LifeboatCore

/// Where and how a ``SharePointStore`` reaches its document library.
public struct SharePointStoreConfiguration: Sendable {
    /// How the app proves who it is to the Microsoft identity platform (app-only, client credentials).
    public enum Credential: Sendable {
        /// `client_secret`: a secret of the app registration (its value, not its ID).
        case secret(Secret)
        /// `client_certificate_file` and `client_certificate_key_file`: a certificate uploaded to the app
        /// registration (PEM) and its RSA private key (PEM, unencrypted); the key file may be the
        /// certificate file when that holds both.
        case certificate(certificateFile: String, keyFile: String)
    }

    /// `tenant_id`: the Entra ID tenant (directory) ID, or its domain (`contoso.onmicrosoft.com`).
    public var tenantID: String
    /// `client_id`: the application (client) ID of the app registration.
    public var clientID: String
    public var credential: Credential
    /// `site`: `HOSTNAME:/SERVER-RELATIVE-PATH`, e.g. `contoso.sharepoint.com:/sites/it`.
    public var site: String
    /// `drive_id`: the document library by ID (`b!…`); default: the site's default library.
    public var driveID: String?
    /// `drive_name`: the document library by name (e.g. `Documents`, `PBX Archive`).
    public var driveName: String?
    /// `folder`: the folder inside the library that holds the archives (`PBX Backups`, or `a/b`);
    /// empty for the library's root. Created when missing.
    public var folder: String
    /// `chunk_size`: bytes per upload-session fragment, a multiple of 320 KiB, at most 60 MiB
    /// (Microsoft's rules); default 10 MiB (Microsoft's recommendation for fast links).
    public var chunkSize: Int
    /// `graph_url`: the Graph API base, `https://graph.microsoft.com/v1.0` unless a national cloud
    /// (`https://graph.microsoft.us/v1.0`, …) or a test server is used.
    public var graphURL: URL
    /// `login_url`: the identity platform, `https://login.microsoftonline.com` unless a national cloud.
    public var loginURL: URL
    /// `ca_file`: certificate authorities to trust instead of the system's.
    public var caFile: String?
    /// `allow_insecure`: accept `http://` for graph_url and login_url (test servers only).
    public var allowInsecure: Bool
    /// Where uploads larger than the simple-upload limit are spooled before they go up: Graph wants
    /// the total size of a file in every fragment, known before the first one, and an archive's size
    /// is known only once it is written. One private file per upload, removed when it ends.
    public var spoolDirectory: String
    public var connectTimeout: Double
    /// A transfer that moves no byte for this long is abandoned as stalled.
    public var stallTimeout: Double
    /// How often a failed request (one fragment, one listing) is tried again.
    public var retryPolicy: RetryPolicy

    /// Every fragment but the last is a multiple of this (320 KiB).
    public static let fragmentGranularity = 327_680
    /// The largest fragment Graph accepts (60 MiB).
    public static let maximumChunkSize = 60 << 20
    public static let defaultChunkSize = 10 << 20
    /// The largest file that goes up in one PUT (`…/content`); larger ones use an upload session.
    public static let simpleUploadLimit = 4 << 20
    public static let defaultGraphURL = URL(string: "https://graph.microsoft.com/v1.0")!
    public static let defaultLoginURL = URL(string: "https://login.microsoftonline.com")!
    /// The scope of an app-only token for Graph.
    public static let graphScope = "https://graph.microsoft.com/.default"

    public init(
        tenantID: String, clientID: String, credential: Credential, site: String, driveID: String? = nil,
        driveName: String? = nil, folder: String = "", chunkSize: Int = SharePointStoreConfiguration.defaultChunkSize,
        graphURL: URL = SharePointStoreConfiguration.defaultGraphURL,
        loginURL: URL = SharePointStoreConfiguration.defaultLoginURL, caFile: String? = nil,
        allowInsecure: Bool = false, spoolDirectory: String = NSTemporaryDirectory(), connectTimeout: Double = 30,
        stallTimeout: Double = 60, retryPolicy: RetryPolicy = RetryPolicy()
    ) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.credential = credential
        self.site = site
        self.driveID = driveID
        self.driveName = driveName
        self.folder = folder.split(separator: "/").joined(separator: "/")
        self.chunkSize = chunkSize
        self.graphURL = graphURL
        self.loginURL = loginURL
        self.caFile = caFile
        self.allowInsecure = allowInsecure
        self.spoolDirectory = spoolDirectory
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
        self.retryPolicy = retryPolicy
    }

    /// What is wrong with the settings, or nil.
    public var problem: String? {
        if tenantID.isEmpty || tenantID.contains("/") { return "tenant_id must be the tenant's ID or domain" }
        if clientID.isEmpty { return "client_id must be the application (client) ID" }
        if siteParts == nil {
            return "site must be HOSTNAME:/PATH, e.g. contoso.sharepoint.com:/sites/it (got '\(site)')"
        }
        if driveID != nil && driveName != nil { return "give drive_id or drive_name, not both" }
        if chunkSize <= 0 || chunkSize % Self.fragmentGranularity != 0 {
            return "chunk_size must be a positive multiple of 320 KiB (327680 bytes), e.g. 5 MiB or 10 MiB"
        }
        if chunkSize > Self.maximumChunkSize { return "chunk_size must be at most 60 MiB (Graph's largest fragment)" }
        for (key, url) in [("graph_url", graphURL), ("login_url", loginURL)] {
            guard let scheme = url.scheme, scheme == "https" || scheme == "http", url.host != nil else {
                return "\(key) must be an http:// or https:// URL with a host"
            }
            if scheme == "http" && !allowInsecure {
                return "\(key) \(url.absoluteString) is plain http: the credentials, tokens and archives would "
                    + "cross the network in clear text; use https, or set allow_insecure: true (test servers)"
            }
        }
        for component in folder.split(separator: "/") where SharePointNames.problem(String(component)) != nil {
            return "folder: \(SharePointNames.problem(String(component))!)"
        }
        return nil
    }

    /// `site` split into the host name and the server-relative path (`/sites/it`).
    var siteParts: (hostname: String, path: String)? {
        guard let colon = site.range(of: ":/") else { return nil }
        let hostname = String(site[..<colon.lowerBound])
        let path = "/" + site[colon.upperBound...].split(separator: "/").joined(separator: "/")
        guard !hostname.isEmpty, !hostname.contains("/"), path.count > 1 else { return nil }
        return (hostname, path)
    }

    /// A URL without a trailing slash.
    static func base(_ url: URL) -> String {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// The token endpoint: `{login_url}/{tenant_id}/oauth2/v2.0/token`.
    var tokenURL: String { Self.base(loginURL) + "/" + URIEncoding.encode(tenantID) + "/oauth2/v2.0/token" }

    /// For messages: the site, the library and the folder (never a credential).
    public var displayName: String {
        var text = site
        if let driveName { text += ", library \(driveName)" } else if let driveID { text += ", library \(driveID)" }
        if !folder.isEmpty { text += ", folder \(folder)" }
        return text
    }
}

/// Which names SharePoint Online accepts for files and folders.
enum SharePointNames {
    /// Why SharePoint would refuse `name` as a file or folder name, or nil.
    static func problem(_ name: String) -> String? {
        if let bad = name.first(where: { "\"*:<>?\\|".contains($0) }) {
            return "'\(name)' contains '\(bad)', which SharePoint does not allow in names"
        }
        if name != name.trimmingCharacters(in: .whitespaces) {
            return "'\(name)' starts or ends with a space, which SharePoint does not allow"
        }
        if name.hasSuffix(".") { return "'\(name)' ends with a dot, which SharePoint does not allow" }
        if name.hasPrefix("~$") || name.lowercased().contains("_vti_") || name.lowercased() == ".lock" {
            return "'\(name)' is a name SharePoint reserves"
        }
        if name.utf16.count > 255 { return "'\(name)' is longer than SharePoint's 255 characters" }
        return nil
    }
}
