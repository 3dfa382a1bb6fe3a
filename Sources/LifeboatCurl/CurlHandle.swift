import CCurl
import Foundation
import LifeboatCore

/// Owns one libcurl easy handle. Reusing a handle for several transfers to the same server reuses
/// its connection (an FTP login, a TLS session), which is why stores keep one.
///
/// A handle runs one transfer at a time and blocks while it does: call it from a thread of your own,
/// never from Swift's cooperative pool (``CurlStreamingUpload`` runs its transfer on a dedicated thread).
public final class CurlHandle: @unchecked Sendable {
    // @unchecked: a handle is used by one thread at a time — the caller's, or the dedicated thread
    // of a streaming upload, which owns it until the upload finishes.
    private let easy: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

    public init() throws {
        guard Self.globalInit == CURLE_OK, let easy = curl_easy_init() else {
            throw CurlError(code: -1, kind: .other, message: "libcurl could not be initialised")
        }
        self.easy = easy
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
    }

    /// The libcurl version, e.g. `libcurl/7.88.1 OpenSSL/3.0.x …`.
    public static var version: String { String(cString: curl_version()) }

    /// Runs one transfer to its end. Throws ``CurlError`` for a failed transfer, or the error a
    /// body source or response sink threw.
    public func perform(_ transfer: CurlTransfer) throws -> CurlResponse {
        curl_easy_reset(easy)  // options only: live connections and TLS sessions stay
        errorBuffer[0] = 0
        let context = TransferContext(transfer)
        var lists: [UnsafeMutablePointer<curl_slist>] = []
        defer { lists.forEach { curl_slist_free_all($0) } }

        try configure(transfer, context: context, lists: &lists)
        let result = withExtendedLifetime(context) { curl_easy_perform(easy) }

        if let error = context.callbackError { throw error }
        var status = 0
        var code: Int = 0
        if lb_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK { status = code }
        guard result == CURLE_OK else {
            if result == CURLE_ABORTED_BY_CALLBACK, transfer.cancellation?.isCancelled == true {
                throw CurlError(code: Int(result.rawValue), kind: .aborted, message: "the transfer was cancelled")
            }
            throw CurlError(
                code: Int(result.rawValue), kind: CurlError.kind(of: result, responseCode: status),
                message: errorText(result), responseCode: status, serverReply: context.lastReply(withCode: status))
        }
        var uploaded: curl_off_t = 0
        var downloaded: curl_off_t = 0
        _ = lb_curl_getinfo_off(easy, CURLINFO_SIZE_UPLOAD_T, &uploaded)
        _ = lb_curl_getinfo_off(easy, CURLINFO_SIZE_DOWNLOAD_T, &downloaded)
        return CurlResponse(
            status: status, headerLines: context.headerLines, body: context.collected,
            uploadedBytes: Int64(uploaded), downloadedBytes: Int64(downloaded))
    }

    private func errorText(_ code: CURLcode) -> String {
        let buffered = String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
        return buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
    }

    // MARK: Options

    private func configure(
        _ transfer: CurlTransfer, context: TransferContext, lists: inout [UnsafeMutablePointer<curl_slist>]
    ) throws {
        let userdata = Unmanaged.passUnretained(context).toOpaque()
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try set(CURLOPT_URL, transfer.url)
        // Redirects are never followed implicitly, and only these protocols are ever spoken.
        try set(CURLOPT_PROTOCOLS_STR, "ftp,ftps,http,https,smtp,smtps")
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_CONNECTTIMEOUT_MS, Int(transfer.connectTimeout * 1000))
        try set(CURLOPT_LOW_SPEED_LIMIT, transfer.lowSpeedLimit)
        try set(CURLOPT_LOW_SPEED_TIME, max(1, Int(transfer.lowSpeedTime)))
        try set(CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, Int(transfer.lowSpeedTime)))
        if let username = transfer.username { try set(CURLOPT_USERNAME, username) }
        if let password = transfer.password { try set(CURLOPT_PASSWORD, password.reveal()) }
        if let caFile = transfer.caFile { try set(CURLOPT_CAINFO, caFile) }
        if transfer.tlsUpgrade == .required { try set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
        if transfer.tls12Only { try set(CURLOPT_SSLVERSION, lb_curl_sslversion_tls12_only()) }
        if let method = transfer.method { try set(CURLOPT_CUSTOMREQUEST, method) }
        if transfer.noBody { try set(CURLOPT_NOBODY, 1) }
        if transfer.ftpCreateMissingDirectories {
            try set(CURLOPT_FTP_CREATE_MISSING_DIRS, Int(CURLFTP_CREATE_DIR_RETRY.rawValue))
        }
        if transfer.ftpListOnly { try set(CURLOPT_DIRLISTONLY, 1) }
        if let from = transfer.mailFrom { try set(CURLOPT_MAIL_FROM, from) }

        for (option, values) in [
            (CURLOPT_HTTPHEADER, transfer.headers), (CURLOPT_QUOTE, transfer.quote),
            (CURLOPT_POSTQUOTE, transfer.postQuote), (CURLOPT_MAIL_RCPT, transfer.mailRecipients),
        ] where !values.isEmpty {
            var list: UnsafeMutablePointer<curl_slist>?
            for value in values {
                guard let appended = curl_slist_append(list, value) else {
                    throw CurlError(code: -1, kind: .other, message: "out of memory building a request")
                }
                list = appended
            }
            lists.append(list!)
            try check(lb_curl_setopt_slist(easy, option, list), option)
        }

        if let body = transfer.body {
            try set(CURLOPT_UPLOAD, 1)
            try check(lb_curl_setopt_data_callback(easy, CURLOPT_READFUNCTION, Callbacks.read), CURLOPT_READFUNCTION)
            try set(CURLOPT_READDATA, pointer: userdata)
            switch body {
            case .bytes(let bytes): try set(CURLOPT_INFILESIZE_LARGE, off: Int64(bytes.count))
            case .source(_, let size?): try set(CURLOPT_INFILESIZE_LARGE, off: size)
            case .source(_, nil): break
            }
        }
        try check(lb_curl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, Callbacks.write), CURLOPT_WRITEFUNCTION)
        try set(CURLOPT_WRITEDATA, pointer: userdata)
        try check(
            lb_curl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, Callbacks.header), CURLOPT_HEADERFUNCTION)
        try set(CURLOPT_HEADERDATA, pointer: userdata)
        if transfer.progress != nil || transfer.cancellation != nil {
            try set(CURLOPT_NOPROGRESS, 0)
            try check(lb_curl_setopt_xferinfo(easy, Callbacks.progress), CURLOPT_XFERINFOFUNCTION)
            try set(CURLOPT_XFERINFODATA, pointer: userdata)
        }
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(lb_curl_setopt_long(easy, option, value), option)
    }

    private func set(_ option: CURLoption, off value: Int64) throws {
        try check(lb_curl_setopt_off(easy, option, curl_off_t(value)), option)
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(lb_curl_setopt_string(easy, option, value), option)
    }

    private func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) throws {
        try check(lb_curl_setopt_pointer(easy, option, pointer), option)
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws {
        guard code == CURLE_OK else {
            throw CurlError(
                code: Int(code.rawValue), kind: .other,
                message: "libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))")
        }
    }
}

/// What the C callbacks of one transfer read and write.
private final class TransferContext {
    var body: CurlTransfer.Body?
    var bodyOffset = 0
    let sink: (any ByteSink)?
    let sinkOnlyOnSuccess: Bool
    let limit: Int
    var collected: [UInt8] = []
    var headerLines: [String] = []
    var callbackError: (any Error)?
    let progress: ((Int64, Int64) -> Void)?
    let cancellation: CurlCancellation?

    init(_ transfer: CurlTransfer) {
        body = transfer.body
        sink = transfer.responseSink
        sinkOnlyOnSuccess = transfer.responseSinkOnlyOnSuccess
        limit = transfer.responseLimit
        progress = transfer.progress
        cancellation = transfer.cancellation
    }

    /// The status of the last HTTP status line received so far; 0 before any.
    var httpStatus: Int {
        guard let line = headerLines.last(where: { $0.hasPrefix("HTTP/") }) else { return 0 }
        let fields = line.split(separator: " ", maxSplits: 2)
        return fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
    }

    /// Where the body goes: the sink, or memory (no sink, or an HTTP error answer).
    var bodySink: (any ByteSink)? {
        guard let sink else { return nil }
        if sinkOnlyOnSuccess, !(200..<300).contains(httpStatus) { return nil }
        return sink
    }

    /// The last line that starts with a three-digit reply code (FTP, SMTP).
    var lastReply: String? {
        headerLines.last { line in
            line.count >= 3 && line.prefix(3).allSatisfy(\.isNumber)
        }
    }

    /// The last reply line with `code`, else ``lastReply``. libcurl's response code is that of the
    /// reply that decided the outcome, while the last line may answer a later command: when a failed
    /// SMTP transfer closes its connection, curl sends QUIT and its `221` arrives last.
    func lastReply(withCode code: Int) -> String? {
        guard code > 0 else { return lastReply }
        let prefix = String(code)
        return headerLines.last { $0.hasPrefix(prefix) } ?? lastReply
    }
}

/// The C callbacks; `static let`s so they carry no actor isolation.
private enum Callbacks {
    static let read: lb_curl_data_callback = { buffer, size, count, userdata in
        let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
        let capacity = size * count
        guard let buffer, capacity > 0 else { return 0 }
        switch context.body {
        case .bytes(let bytes):
            let n = min(capacity, bytes.count - context.bodyOffset)
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(
                    from: raw.baseAddress!.advanced(by: context.bodyOffset), byteCount: n)
            }
            context.bodyOffset += n
            return n
        case .source(let source, _):
            do {
                return try source.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
            } catch {
                context.callbackError = error
                return lb_curl_readfunc_abort()
            }
        case nil:
            return 0
        }
    }

    static let write: lb_curl_data_callback = { buffer, size, count, userdata in
        let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
        let n = size * count
        guard let buffer, n > 0 else { return n }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
        if let sink = context.bodySink {
            do {
                try sink.write(bytes)
            } catch {
                context.callbackError = error
                return 0
            }
        } else {
            guard context.collected.count + n <= context.limit else {
                context.callbackError = CurlError(
                    code: -1, kind: .other, message: "the response is larger than the \(context.limit)-byte limit")
                return 0
            }
            context.collected.append(contentsOf: bytes)
        }
        return n
    }

    static let header: lb_curl_data_callback = { buffer, size, count, userdata in
        let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
        let n = size * count
        guard let buffer, n > 0 else { return n }
        var bytes = UnsafeRawBufferPointer(start: buffer, count: n)[...]
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes = bytes.dropLast() }
        let line = String(decoding: bytes, as: UTF8.self)
        if context.headerLines.count >= 1000 { context.headerLines.removeFirst(500) }
        context.headerLines.append(line)
        return n
    }

    static let progress: lb_curl_xferinfo_callback = { userdata, _, downloaded, _, uploaded in
        let context = Unmanaged<TransferContext>.fromOpaque(userdata!).takeUnretainedValue()
        context.progress?(Int64(uploaded), Int64(downloaded))
        return context.cancellation?.isCancelled == true ? 1 : 0
    }
}
