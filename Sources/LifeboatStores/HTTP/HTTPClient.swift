import Foundation
import LifeboatCore
import LifeboatCurl

/// One HTTP exchange of an object-storage store.
struct HTTPRequest {
    var method: String
    var url: String
    /// `(name, value)` pairs, sent in this order.
    var headers: [(name: String, value: String)] = []
    var body: CurlTransfer.Body?
    /// A 2xx answer's body goes here; without a sink (or for any other status) it is collected in
    /// memory up to `responseLimit`.
    var sink: (any ByteSink)?
    var responseLimit = 4 << 20
    var cancellation: CurlCancellation?

    init(_ method: String, _ url: String, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.url = url
        self.headers = headers
    }
}

/// HTTP over libcurl for the object-storage stores (S3, GCS, SharePoint).
///
/// Handles are pooled, so parallel transfers each keep a warm connection (and TLS session), and a
/// transfer that fails below HTTP (refused, reset, stalled, TLS) becomes a ``StoreError`` naming
/// the store and the operation. HTTP statuses are left to the store, which knows its error bodies;
/// ``HTTPFailure`` gives the common classification.
final class HTTPClient: @unchecked Sendable {
    // @unchecked: `idle` is only touched under `lock`; a handle is used by one thread at a time.
    /// The store, as messages name it (`s3 store 'offsite' (…)`).
    let owner: String
    let caFile: String?
    let connectTimeout: Double
    let stallTimeout: Double
    private let lock = NSLock()
    private var idle: [CurlHandle] = []

    init(owner: String, caFile: String?, connectTimeout: Double = 30, stallTimeout: Double = 60) {
        self.owner = owner
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
    }

    /// Sends `request` and returns the answer, whatever its status.
    func send(_ request: HTTPRequest, what: String) throws -> CurlResponse {
        let handle = try checkOut()
        var transfer = CurlTransfer(url: request.url)
        transfer.method = request.method
        transfer.headers = request.headers.map { "\($0.name): \($0.value)" }
        if request.method == "HEAD" { transfer.noBody = true }
        transfer.body = request.body
        if request.body == nil, request.method == "POST" || request.method == "PUT" {
            transfer.body = .bytes([])
        }
        transfer.responseSink = request.sink
        transfer.responseSinkOnlyOnSuccess = true
        transfer.responseLimit = request.responseLimit
        transfer.caFile = caFile
        transfer.connectTimeout = connectTimeout
        transfer.lowSpeedTime = stallTimeout
        transfer.cancellation = request.cancellation
        do {
            let response = try handle.perform(transfer)
            checkIn(handle)
            return response
        } catch let error as CurlError {
            // A handle whose transfer broke is not reused: its connection state is unknown.
            throw storeError(error, what)
        }
    }

    /// Turns a transfer failure into a store error that names the store, the operation and the cause.
    func storeError(_ error: CurlError, _ what: String) -> StoreError {
        let prefix = "\(owner): \(what) failed"
        switch error.kind {
        case .transient:
            return StoreError(.unavailable, "\(prefix): \(error)", underlying: error)
        case .tls:
            return .tls(prefix, error, caFile: caFile)
        default:
            return StoreError(.io, "\(prefix): \(error)", underlying: error)
        }
    }

    private func checkOut() throws -> CurlHandle {
        if let handle = lock.withLock({ idle.popLast() }) { return handle }
        do {
            return try CurlHandle()
        } catch let error as CurlError {
            throw StoreError(.io, "\(owner): cannot start libcurl: \(error)", underlying: error)
        }
    }

    private func checkIn(_ handle: CurlHandle) {
        lock.withLock {
            if idle.count < 16 { idle.append(handle) }
        }
    }
}

/// The classification every HTTP store shares: which statuses are worth another try, and how long
/// the server asked to wait.
enum HTTPFailure {
    /// The store error code for a non-2xx status.
    static func code(for status: Int) -> StoreError.Code {
        switch status {
        case 401, 403: .unauthorized
        case 404, 410: .notFound
        case 409, 412: .conflict
        case 507: .storageFull
        case 408, 425, 429, 500, 502, 503, 504: .unavailable
        default: .io
        }
    }

    /// Seconds from a `Retry-After` header: delta-seconds, or an HTTP date (RFC 9110 §10.2.3).
    static func retryAfter(_ response: CurlResponse, now: Date = Date()) -> Double? {
        guard let value = response.header("Retry-After") else { return nil }
        if let seconds = Double(value), seconds >= 0 { return seconds }
        guard let date = httpDate(value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), as `Retry-After` and
    /// `Last-Modified` carry it.
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// The start of an error body as printable text, for messages when the body cannot be parsed.
    static func excerpt(_ body: [UInt8], limit: Int = 300) -> String {
        let text = String(decoding: body.prefix(limit), as: UTF8.self)
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        return printable.trimmingCharacters(in: .whitespaces) + (body.count > limit ? "…" : "")
    }
}

/// Percent-encoding as AWS SigV4, GCS and Graph URLs want it: RFC 3986 unreserved characters stay,
/// every other byte of the UTF-8 becomes `%XX` (upper-case hex).
enum URIEncoding {
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Encodes `text`; `/` stays as it is when `keepSlash` (object-key paths).
    static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `k=v&…` with keys and values encoded, in the given order.
    static func query(_ items: [(String, String)]) -> String {
        items.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }
}
