import Foundation
import LifeboatCore

/// One transfer for ``CurlHandle/perform(_:)``: where, how, and what goes up or comes down.
///
/// Credentials go in `username`/`password`, never in the URL, so no error or log ever shows them.
public struct CurlTransfer {
    /// The body sent with the request.
    public enum Body {
        case bytes([UInt8])
        /// Read until the source ends; `size` (when known) is announced to the server.
        case source(any ByteSource, size: Int64?)
    }

    /// TLS on protocols that start in plain text (FTP's `AUTH TLS`, SMTP's `STARTTLS`).
    public enum TLSUpgrade: Sendable {
        /// Never: plain text. Only for tests and servers the operator chose to trust on the wire.
        case none
        /// Required on the control and data connections; the transfer fails without it.
        case required
    }

    public var url: String
    /// A method other than the protocol's default (HTTP `DELETE`, FTP `MLSD`).
    public var method: String?
    /// Request headers, `Name: value` (HTTP, SMTP message headers are part of the body instead).
    public var headers: [String] = []
    public var username: String?
    public var password: Secret?
    /// Upload this body (FTP STOR, HTTP PUT/POST, SMTP DATA).
    public var body: Body?
    /// Send the request without fetching a body (FTP: run the quote commands only).
    public var noBody = false
    /// Response body goes here; when nil it is collected in memory up to `responseLimit`.
    public var responseSink: (any ByteSink)?
    public var responseLimit = 4 << 20
    /// HTTP: only a 2xx answer's body goes to `responseSink`; any other answer's body (an error
    /// document) is collected in memory up to `responseLimit` instead.
    public var responseSinkOnlyOnSuccess = false
    /// A PEM bundle of certificate authorities to trust instead of the system's.
    public var caFile: String?
    public var tlsUpgrade: TLSUpgrade = .none
    /// Never negotiate above TLS 1.2 (for servers that mishandle TLS 1.3, see FTPStoreConfiguration).
    public var tls12Only = false
    public var connectTimeout: Double = 30
    /// A transfer slower than `lowSpeedLimit` bytes/s for `lowSpeedTime` seconds is a timeout.
    public var lowSpeedLimit = 1
    public var lowSpeedTime: Double = 60
    /// Protocol commands sent before the transfer (FTP `-Q`); a failing command fails the transfer.
    public var quote: [String] = []
    /// Protocol commands sent after a successful transfer.
    public var postQuote: [String] = []
    /// FTP: create missing folders on upload.
    public var ftpCreateMissingDirectories = false
    /// FTP: list names only (NLST) instead of the full listing.
    public var ftpListOnly = false
    /// SMTP envelope.
    public var mailFrom: String?
    public var mailRecipients: [String] = []
    /// Called now and then with bytes uploaded and downloaded so far.
    public var progress: ((_ uploaded: Int64, _ downloaded: Int64) -> Void)?
    public var cancellation: CurlCancellation?

    public init(url: String) {
        self.url = url
    }
}

/// The outcome of a transfer that libcurl reported as a success.
public struct CurlResponse: Sendable {
    /// HTTP status, or the last FTP/SMTP reply code.
    public var status: Int
    /// Response header lines (HTTP), or the server's reply lines (FTP, SMTP), without line endings.
    public var headerLines: [String]
    /// The body, when it was collected in memory (no `responseSink`).
    public var body: [UInt8]
    public var uploadedBytes: Int64
    public var downloadedBytes: Int64

    /// The value of the last HTTP header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased() + ":"
        for line in headerLines.reversed() where line.lowercased().hasPrefix(lower) {
            return String(line.dropFirst(lower.count)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

/// Lets another thread stop a running transfer; the transfer then fails with ``CurlError/Kind/aborted``.
public final class CurlCancellation: @unchecked Sendable {
    // @unchecked: the flag is only read and written under `lock`.
    private let lock = NSLock()
    private var cancelled = false

    public init() {}

    public func cancel() { lock.withLock { cancelled = true } }

    public var isCancelled: Bool { lock.withLock { cancelled } }
}
