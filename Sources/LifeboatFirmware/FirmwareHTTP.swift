import Foundation
import LifeboatCore
import LifeboatCurl

/// The HTTP GETs of the firmware checker (feed, signature, image) through libcurl, with failures
/// turned into `FirmwareError`s that say what was fetched, from where, and what went wrong.
///
/// TLS is always verified (against `caFile` when set, else the system's authorities); redirects
/// are never followed. Blocks while the transfer runs: call it from a thread of your own.
struct FirmwareHTTP {
    /// A PEM bundle of certificate authorities to trust instead of the system's (`ca_file`).
    var caFile: String?
    /// Seconds to wait for the TCP and TLS connection.
    var connectTimeout: Double
    /// A transfer that moves less than one byte per second for this many seconds is abandoned.
    var stallTimeout: Double
    /// When set, a transfer still running after this many seconds is abandoned.
    var totalTimeout: Double?
    var cancellation: CurlCancellation?

    /// GETs `url`; a 2xx body goes to `sink`, any other answer's body (an error document, up to
    /// 64 KiB) stays in the response. Returns the response whatever its status.
    ///
    /// Throws `FirmwareError` (`underlying` is the `CurlError`) for a failed transfer, and the
    /// sink's own error, unchanged, when the sink refused the body.
    func get(
        _ url: String, what: String, headers: [String] = [], into sink: any ByteSink, handle: CurlHandle
    ) throws -> CurlResponse {
        if cancellation?.isCancelled == true {
            throw FirmwareError(.cancelled, "\(what) \(url) was cancelled before it started")
        }
        var transfer = CurlTransfer(url: url)
        transfer.headers = headers
        transfer.responseSink = sink
        transfer.responseSinkOnlyOnSuccess = true
        transfer.responseLimit = 64 << 10
        transfer.caFile = caFile
        transfer.connectTimeout = connectTimeout
        transfer.lowSpeedLimit = 1
        transfer.lowSpeedTime = stallTimeout

        // libcurl polls the progress callback at least once a second: it enforces both the
        // caller's cancellation and the overall deadline through one cancellation of our own.
        let stop = CurlCancellation()
        let deadline = totalTimeout.map { Date().addingTimeInterval($0) }
        let caller = cancellation
        transfer.cancellation = stop
        transfer.progress = { _, _ in
            if caller?.isCancelled == true || deadline.map({ Date() > $0 }) == true { stop.cancel() }
        }
        do {
            return try handle.perform(transfer)
        } catch let error as CurlError {
            if error.kind == .aborted, stop.isCancelled {
                if caller?.isCancelled == true {
                    throw FirmwareError(.cancelled, "\(what) \(url) was cancelled", underlying: error)
                }
                throw FirmwareError(
                    .unavailable,
                    "\(what) \(url) did not finish within \(DurationText.render(Int64(totalTimeout ?? 0)))",
                    underlying: error)
            }
            throw transferError(error, url: url, what: what)
        }
    }

    /// A `FirmwareError` for a transfer libcurl reported as failed.
    private func transferError(_ error: CurlError, url: String, what: String) -> FirmwareError {
        let cause = error.description
        switch error.kind {
        case .transient:
            let status = error.responseCode > 0 ? " (after an HTTP \(error.responseCode) answer)" : ""
            return FirmwareError(
                .unavailable,
                "\(what) \(url) failed: the server could not be reached, the connection broke or the transfer "
                    + "stalled\(status): \(cause)",
                underlying: error)
        case .tls:
            let hint =
                caFile.map { "check that ca_file \($0) holds the authority that signed the server's certificate" }
                ?? "if the server's certificate comes from a private authority, set ca_file"
            return FirmwareError(.tls, "\(what) \(url) failed: TLS failed: \(cause); \(hint)", underlying: error)
        default:
            if error.code == -1, error.message.hasPrefix("the response is larger") {
                // Only error documents are collected in memory (2xx bodies go to the sink).
                return FirmwareError(
                    .httpStatus, "\(what) \(url) failed: the server answered an error with a document over 64 KiB",
                    underlying: error)
            }
            return FirmwareError(.transferFailed, "\(what) \(url) failed: \(cause)", underlying: error)
        }
    }

    /// A `FirmwareError` for an answer whose status is not the one expected.
    ///
    /// 404 and 410 are `.notFound`; 408, 429 and 5xx `.unavailable`; anything else `.httpStatus`.
    /// `notFoundHint` is added to a 404/410 message.
    static func statusError(
        _ response: CurlResponse, url: String, what: String, notFoundHint: String? = nil
    ) -> FirmwareError {
        let status = response.status
        var message = "\(what) \(url): the server answered \(statusText(response))"
        let excerpt = Self.excerpt(response.body)
        if !excerpt.isEmpty { message += " (\(excerpt))" }
        switch status {
        case 404, 410:
            if let notFoundHint { message += "; \(notFoundHint)" }
            return FirmwareError(.notFound, message)
        case 408, 429, 500...599:
            if let wait = response.header("Retry-After"), !wait.isEmpty {
                message += "; it asked to retry after \(wait.prefix(40))"
            }
            return FirmwareError(.unavailable, message)
        case 300...399:
            let target = response.header("Location").flatMap { URL(string: $0)?.host } ?? "another address"
            message += "; redirects are not followed: use the final address (it points to \(target))"
            return FirmwareError(.httpStatus, message)
        default:
            return FirmwareError(.httpStatus, message)
        }
    }

    /// `404 Not Found`: the status and the reason phrase of the last status line.
    static func statusText(_ response: CurlResponse) -> String {
        guard let line = response.headerLines.last(where: { $0.hasPrefix("HTTP/") }) else {
            return "\(response.status)"
        }
        let fields = line.split(separator: " ", maxSplits: 2)
        guard fields.count == 3 else { return "\(response.status)" }
        return "\(response.status) \(fields[2].prefix(60))"
    }

    /// The start of an error document, printable ASCII only, at most 200 characters.
    static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(400), as: UTF8.self)
            .map { $0.isASCII && ($0.isLetter || $0.isNumber || $0.isPunctuation || $0.isSymbol) ? $0 : " " }
        let collapsed = String(text).split(separator: " ").joined(separator: " ")
        return collapsed.count > 200 ? String(collapsed.prefix(200)) + "…" : collapsed
    }

    /// Checks that `url` may be fetched: an absolute `https` URL with a host (or `http` with
    /// `allowInsecure`), without credentials or fragment. `setting` names it in the error.
    static func validate(_ url: String, allowInsecure: Bool, setting: String) throws {
        let shown = url.count > 200 ? String(url.prefix(200)) + "…" : url
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(),
            let host = parsed.host, !host.isEmpty
        else {
            throw FirmwareError(.invalidURL, "\(setting) \"\(shown)\" is not an absolute http(s) URL")
        }
        guard parsed.user == nil, parsed.password == nil else {
            throw FirmwareError(
                .invalidURL, "\(setting) must not contain credentials (user:password@): they would appear in logs")
        }
        guard parsed.fragment == nil else {
            throw FirmwareError(.invalidURL, "\(setting) \"\(shown)\" must not have a #fragment")
        }
        switch scheme {
        case "https": return
        case "http" where allowInsecure: return
        case "http":
            throw FirmwareError(
                .invalidURL,
                "\(setting) \"\(shown)\" is plain http: firmware is only fetched over https unless "
                    + "allow_insecure is true")
        default:
            throw FirmwareError(.invalidURL, "\(setting) \"\(shown)\" is not an http(s) URL (scheme \(scheme))")
        }
    }
}
