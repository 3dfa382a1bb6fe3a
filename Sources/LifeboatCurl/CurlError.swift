import CCurl

/// A failed libcurl transfer: curl's result code, its error buffer, and the server's last reply.
///
/// The message never holds credentials: they are handed to libcurl through options, never in URLs.
public struct CurlError: Error, Sendable, CustomStringConvertible {
    /// How a caller should treat the failure.
    public enum Kind: Sendable, Hashable {
        /// The server could not be reached, the connection broke, or a transfer stalled: try again.
        case transient
        /// Credentials were refused.
        case authentication
        /// The TLS handshake or the certificate check failed.
        case tls
        /// The remote file or folder does not exist, or the server refused access to it.
        case remoteAccess
        /// The server refused the upload (for FTP: a 5xx reply to STOR, e.g. 552 disk full or quota).
        case refused
        /// The transfer was cancelled by the caller, or a callback failed.
        case aborted
        /// Anything else: a bad option, an unsupported protocol feature, a local failure.
        case other
    }

    /// libcurl's `CURLcode`.
    public var code: Int
    public var kind: Kind
    /// curl's error buffer, or `curl_easy_strerror` when the buffer is empty.
    public var message: String
    /// The last response code (HTTP status, or FTP/SMTP reply code); 0 when there was none.
    public var responseCode: Int
    /// The server's last reply line, when the protocol has one (FTP, SMTP).
    public var serverReply: String?

    public init(code: Int, kind: Kind, message: String, responseCode: Int = 0, serverReply: String? = nil) {
        self.code = code
        self.kind = kind
        self.message = message
        self.responseCode = responseCode
        self.serverReply = serverReply
    }

    /// Whether the same transfer may succeed if tried again.
    public var isRetryable: Bool {
        switch kind {
        case .transient: return true
        case .refused: return (400..<500).contains(responseCode)  // FTP 4xx: transient negative replies
        default: return false
        }
    }

    /// The server refused the upload for lack of space or over quota (FTP 552/452, curl's
    /// `CURLE_REMOTE_DISK_FULL`).
    public var isStorageFull: Bool {
        kind == .refused
            && (responseCode == 552 || responseCode == 452 || code == Int(CURLE_REMOTE_DISK_FULL.rawValue))
    }

    /// TLS was required (``CurlTransfer/TLSUpgrade/required``) and the server did not offer or
    /// refused the upgrade (SMTP `STARTTLS`, FTP `AUTH TLS`): nothing was sent in plain text after
    /// the greeting and the capabilities.
    public var isTLSUpgradeRefused: Bool { code == Int(CURLE_USE_SSL_FAILED.rawValue) }

    /// The server's certificate did not verify against the trusted certificate authorities (the
    /// system's, or `caFile`), or does not match the host name.
    public var isCertificateUntrusted: Bool { code == Int(CURLE_PEER_FAILED_VERIFICATION.rawValue) }

    /// The `caFile` given could not be read or holds no usable certificate.
    public var isCAFileUnusable: Bool { code == Int(CURLE_SSL_CACERT_BADFILE.rawValue) }

    public var description: String {
        var text = message
        if let serverReply, !serverReply.isEmpty, !text.contains(serverReply) {
            text += " (server said: \(serverReply))"
        }
        return text
    }

    /// Classifies a libcurl result code.
    static func kind(of code: CURLcode, responseCode: Int) -> Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
            CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
            CURLE_PARTIAL_FILE, CURLE_FTP_ACCEPT_TIMEOUT, CURLE_FTP_ACCEPT_FAILED, CURLE_FTP_CANT_GET_HOST,
            CURLE_FTP_WEIRD_PASV_REPLY, CURLE_FTP_WEIRD_227_FORMAT, CURLE_FTP_PORT_FAILED,
            CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3, CURLE_AGAIN:
            return .transient
        case CURLE_SEND_FAIL_REWIND:
            // A reused connection broke while the body was going up, and curl could not replay a
            // streamed body on a new one: the request did not complete, and the caller may send it again.
            return .transient
        case CURLE_LOGIN_DENIED:
            return .authentication
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_USE_SSL_FAILED,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED:
            return .tls
        case CURLE_REMOTE_FILE_NOT_FOUND, CURLE_REMOTE_ACCESS_DENIED, CURLE_FTP_COULDNT_RETR_FILE:
            return .remoteAccess
        case CURLE_UPLOAD_FAILED, CURLE_REMOTE_DISK_FULL, CURLE_QUOTE_ERROR, CURLE_FTP_COULDNT_USE_REST,
            CURLE_REMOTE_FILE_EXISTS:
            // 421 (service closing), 425/426 (data connection) and 450/451/452 are transient FTP replies.
            if [421, 425, 426].contains(responseCode) { return .transient }
            return .refused
        case CURLE_ABORTED_BY_CALLBACK, CURLE_READ_ERROR, CURLE_WRITE_ERROR:
            return .aborted
        default:
            return .other
        }
    }
}
