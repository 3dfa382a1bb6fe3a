import Foundation
import LifeboatCore
import LifeboatCurl
import Logging

/// Downloads a release's firmware image into a directory (the agent's state directory) and checks
/// its size and SHA-256 against the verified feed before it gets its final name.
///
/// The image is written as `NAME.partial` beside its final name `NAME` (``fileName(for:)``). A later
/// call resumes a partial download with `Range: bytes=N-`:
/// - `206` whose `Content-Range` starts at N: the bytes are appended to the partial.
/// - `200` (the server ignored the range): the download starts over with that answer's body.
/// - `416`, a `Content-Range` that starts elsewhere, or a partial larger than the release's size:
///   the partial is deleted and the image is fetched whole.
///
/// Never more than the release's declared size is accepted: a server that sends more (or a 206
/// with more than the range asked for) is refused with `.sizeMismatch`, the partial is deleted and
/// the transfer is stopped without reading the rest. When the partial reaches the declared size its
/// SHA-256 is computed from the file (resumed part included); a mismatch deletes it and throws
/// `.hashMismatch` naming both hashes. A matching file is fsynced, renamed to `NAME`, and the
/// directory fsynced. A verified `NAME` already there is reused without any request; one that does
/// not verify is deleted and downloaded again.
///
/// The body of a resumed request goes to `NAME.partial.next` first and joins the partial once the
/// answer's status is known, so `NAME.partial` is always a prefix of what the server sent for the
/// image. An interrupted download keeps what arrived; a cancelled resumed request drops its own
/// bytes (their status is unknown) but keeps the partial it started from.
///
/// `download` blocks while it transfers and hashes: call it from a thread of your own, never from
/// Swift's cooperative pool. One download per image at a time (the caller serialises them).
public struct ImageDownloader: Sendable, CustomStringConvertible {
    /// Where images and partial downloads are kept; made (mode 0700) when missing.
    public var directory: String
    /// A PEM bundle of certificate authorities to trust instead of the system's (`firmware.ca_file`).
    public var caFile: String?
    /// Whether `http://` image URLs are accepted (`firmware.allow_insecure`); otherwise only https.
    public var allowInsecure: Bool
    /// Seconds to wait for the connection.
    public var connectTimeout: Double
    /// A download that moves less than one byte per second for this many seconds is abandoned
    /// (`.unavailable`; the next call resumes it).
    public var stallTimeout: Double

    public init(
        directory: String, caFile: String? = nil, allowInsecure: Bool = false, connectTimeout: Double = 30,
        stallTimeout: Double = 60
    ) {
        self.directory = directory
        self.caFile = caFile
        self.allowInsecure = allowInsecure
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
    }

    public var description: String { "firmware image downloader into \(directory)" }

    /// `firmware-VERSION-SHA256PREFIX.img`: the version keeps names readable, the first 16 hex digits
    /// of the SHA-256 keep a re-published image from resuming or reusing the old one's bytes.
    public static func fileName(for release: FirmwareRelease) -> String {
        let version = release.version.text.map {
            $0.isASCII && ($0.isLetter || $0.isNumber || ".-+".contains($0)) ? $0 : "_"
        }
        return "firmware-\(String(version))-\(release.sha256.lowercased().prefix(16)).img"
    }

    /// Where the verified image of `release` is kept.
    public func path(for release: FirmwareRelease) -> String {
        (directory as NSString).appendingPathComponent(Self.fileName(for: release))
    }

    /// Where the partial download of `release` is kept.
    public func partialPath(for release: FirmwareRelease) -> String { path(for: release) + ".partial" }

    /// Downloads `release`'s image (resuming a partial one), verifies it and gives it its final
    /// name; returns at once when the verified image is already there.
    ///
    /// - Throws: `FirmwareError`: `.invalidURL`, `.invalidRelease`; `.unavailable` (retryable: the
    ///   partial is kept), `.tls`, `.notFound`, `.httpStatus`, `.transferFailed`, `.cancelled`;
    ///   `.sizeMismatch`, `.hashMismatch` (the partial is deleted); `.io`.
    public func download(
        _ release: FirmwareRelease, logger: Logger, cancellation: CurlCancellation? = nil
    ) throws -> DownloadedImage {
        let expected = release.sha256.lowercased()
        guard expected.utf8.count == 64, Hex.decode(expected) != nil else {
            throw FirmwareError(
                .invalidRelease,
                "release \(release.version) has sha256 \"\(release.sha256.prefix(80))\", "
                    + "which is not 64 hex digits")
        }
        guard release.size >= 0 else {
            throw FirmwareError(.invalidRelease, "release \(release.version) has a negative size \(release.size)")
        }
        try FirmwareHTTP.validate(release.url, allowInsecure: allowInsecure, setting: "release \(release.version) URL")
        try ImageFile.makeDirectory(directory)

        let final = path(for: release)
        var metadata: Logger.Metadata = [
            "firmware.version": "\(release.version)", "firmware.url": "\(release.url)", "firmware.path": "\(final)",
        ]
        if let size = try ImageFile.size(of: final) {
            if size == release.size, try ImageFile.sha256(of: final) == expected {
                logger.debug("Firmware image already downloaded", metadata: metadata)
                return DownloadedImage(
                    path: final, size: size, sha256: expected, reused: true, resumedFrom: 0, bytesReceived: 0)
            }
            logger.warning("Firmware image on disk does not verify; downloading it again", metadata: metadata)
            try ImageFile.remove(final)
        }

        var download = Download(
            release: release, partial: final + ".partial", http: http(cancellation), logger: logger,
            metadata: metadata)
        let resumedFrom = try download.run()
        metadata["firmware.bytes_received"] = "\(download.received)"

        let actual = try ImageFile.sha256(of: download.partial)
        guard actual == expected else {
            ImageFile.discard(download.partial)
            throw FirmwareError(
                .hashMismatch,
                "the image of release \(release.version) from \(release.url) has SHA-256 \(actual), but the feed "
                    + "declares \(expected); the download was deleted")
        }
        try ImageFile.commit(download.partial, to: final)
        logger.info("Firmware image downloaded and verified", metadata: metadata)
        return DownloadedImage(
            path: final, size: release.size, sha256: expected, reused: false, resumedFrom: resumedFrom,
            bytesReceived: download.received)
    }

    private func http(_ cancellation: CurlCancellation?) -> FirmwareHTTP {
        FirmwareHTTP(
            caFile: caFile, connectTimeout: connectTimeout, stallTimeout: stallTimeout, totalTimeout: nil,
            cancellation: cancellation)
    }
}

/// A verified firmware image on disk.
public struct DownloadedImage: Sendable, Equatable {
    /// The image's final path.
    public var path: String
    public var size: Int64
    /// The verified SHA-256, lower-case hex.
    public var sha256: String
    /// Whether the image was already there, verified, and nothing was downloaded.
    public var reused: Bool
    /// The size of the partial download this call resumed from; 0 when it started from nothing.
    public var resumedFrom: Int64
    /// The body bytes this call received from the server, over all its requests.
    public var bytesReceived: Int64
}

/// One call's transfers into `partial`: at most a resumed request and a whole one.
private struct Download {
    let release: FirmwareRelease
    let partial: String
    let http: FirmwareHTTP
    let logger: Logger
    let metadata: Logger.Metadata
    /// Body bytes received over all requests.
    var received: Int64 = 0

    var what: String { "downloading the image of release \(release.version) from" }

    /// The download's log metadata with `extra` added.
    func metadata(_ extra: Logger.Metadata) -> Logger.Metadata {
        metadata.merging(extra) { $1 }
    }
    var next: String { partial + ".next" }

    init(release: FirmwareRelease, partial: String, http: FirmwareHTTP, logger: Logger, metadata: Logger.Metadata) {
        self.release = release
        self.partial = partial
        self.http = http
        self.logger = logger
        self.metadata = metadata
    }

    /// Brings `partial` to the release's size; returns the size it resumed from.
    mutating func run() throws -> Int64 {
        ImageFile.discard(next)  // left by a crash: its status is unknown
        let size = release.size
        var have = try ImageFile.size(of: partial) ?? 0
        if have > size {
            logger.warning(
                "Partial firmware download is larger than the image; starting over",
                metadata: metadata(["firmware.partial_bytes": "\(have)"]))
            try ImageFile.remove(partial)
            have = 0
        }
        let resumedFrom = have
        let handle: CurlHandle
        do {
            handle = try CurlHandle()
        } catch {
            throw FirmwareError(.transferFailed, "\(what) \(release.url) failed: \(error)", underlying: error)
        }
        if have > 0 && have < size {
            logger.info("Resuming firmware download", metadata: metadata(["firmware.resume_from": "\(have)"]))
            if try !resume(from: have, handle: handle) {
                try fetchWhole(handle: handle)
            }
        } else if have == 0 {
            try fetchWhole(handle: handle)
        }
        let now = try ImageFile.size(of: partial) ?? 0
        guard now == size else {
            // Only a body that ended early without an error from libcurl (no Content-Length) gets here.
            throw FirmwareError(
                .unavailable,
                "\(what) \(release.url) ended after \(now) of \(size) bytes; the next attempt resumes from there")
        }
        return resumedFrom
    }

    /// GETs the whole image into a new `partial`.
    private mutating func fetchWhole(handle: CurlHandle) throws {
        let file = try ImageFile(creating: partial, limit: release.size)
        defer { file.close() }
        let response: CurlResponse
        do {
            response = try http.get(release.url, what: what, into: file, handle: handle)
        } catch {
            received += file.written
            // What arrived is the image from its first byte: kept for the next attempt, unless the
            // server sent more than the image.
            if file.written == 0 { ImageFile.discard(partial) }
            throw failure(error, deleting: [partial])
        }
        received += file.written
        guard response.status == 200 else {
            ImageFile.discard(partial)
            throw FirmwareHTTP.statusError(response, url: release.url, what: what)
        }
        try checkWholeImage(file.written)
    }

    /// A complete 200 answer must be exactly the declared size (more is refused while it arrives).
    private func checkWholeImage(_ written: Int64) throws {
        guard written == release.size else {
            ImageFile.discard(partial)
            throw FirmwareError(
                .sizeMismatch,
                "\(what) \(release.url): the server sent a \(written)-byte image, but the feed declares "
                    + "\(release.size) bytes; the download was deleted")
        }
    }

    /// GETs the rest of the image from `offset` into `next`, then joins it to `partial`. Returns false
    /// when the image must be fetched whole instead (416, or a range other than the one asked for).
    private mutating func resume(from offset: Int64, handle: CurlHandle) throws -> Bool {
        // A 200 may carry the whole image, so the file takes up to the image's size; a 206 must carry
        // exactly the rest, which is checked once its status is known.
        let file = try ImageFile(creating: next, limit: release.size)
        defer { file.close() }
        let response: CurlResponse
        do {
            response = try http.get(
                release.url, what: what, headers: ["Range: bytes=\(offset)-"], into: file, handle: handle)
        } catch {
            received += file.written
            try salvage(after: error, offset: offset, written: file.written)
            throw failure(error, deleting: [next, partial])
        }
        received += file.written
        let rest = release.size - offset
        switch response.status {
        case 206:
            guard let range = ContentRange(response.header("Content-Range")), range.start == offset else {
                logger.warning(
                    "Server answered a resumed firmware download with another range; starting over",
                    metadata: metadata(["http.content_range": "\(response.header("Content-Range") ?? "")"]))
                ImageFile.discard(next)
                try ImageFile.remove(partial)
                return false
            }
            if let total = range.total, total != release.size {
                ImageFile.discard(next)
                ImageFile.discard(partial)
                throw FirmwareError(
                    .sizeMismatch,
                    "\(what) \(release.url): the server says the image is \(total) bytes, but the feed declares "
                        + "\(release.size); the download was deleted")
            }
            guard file.written <= rest else {
                ImageFile.discard(next)
                ImageFile.discard(partial)
                throw FirmwareError(
                    .sizeMismatch,
                    "\(what) \(release.url): asked for the last \(rest) bytes of \(release.size), the server sent "
                        + "\(file.written); the download was deleted")
            }
            file.close()
            try ImageFile.append(next, to: partial)
            return true
        case 200:
            logger.notice("Server ignored the range of a resumed firmware download; starting over", metadata: metadata)
            file.close()
            try ImageFile.move(next, to: partial)
            try checkWholeImage(file.written)
            return true
        case 416:
            logger.warning("Server refused the range of a resumed firmware download; starting over", metadata: metadata)
            ImageFile.discard(next)
            try ImageFile.remove(partial)
            return false
        default:
            ImageFile.discard(next)
            throw FirmwareHTTP.statusError(response, url: release.url, what: what)
        }
    }

    /// After a resumed request broke off, keeps what it brought when its status says where the bytes
    /// belong: a 206's continue the partial, a 200's restart it (kept when longer than the partial).
    /// Bytes of an unknown status (cancelled, refused by the sink) are dropped.
    private func salvage(after error: any Error, offset: Int64, written: Int64) throws {
        let status = ((error as? FirmwareError)?.underlying as? CurlError)?.responseCode ?? 0
        // The headers of a broken answer are not at hand, so a 206's Content-Range cannot be checked
        // here: the bytes are trusted to start where they were asked to, and the final SHA-256
        // catches a server that did otherwise.
        if written > 0 && status == 206 && written <= release.size - offset {
            try ImageFile.append(next, to: partial)
        } else if written > offset && status == 200 {
            try ImageFile.move(next, to: partial)
        } else {
            ImageFile.discard(next)
        }
    }

    /// The error to throw for a failed request: the sink's refusal becomes `.sizeMismatch` (and
    /// `paths` are deleted); a retryable failure says that the next attempt resumes.
    private func failure(_ error: any Error, deleting paths: [String]) -> any Error {
        if var error = error as? FirmwareError, error.code == .unavailable {
            if let kept = try? ImageFile.size(of: partial), kept > 0 {
                error.message += "; the \(kept) bytes received so far are kept and the next attempt resumes"
            }
            return error
        }
        guard error is ImageFile.LimitExceeded else { return error }
        paths.forEach(ImageFile.discard)
        return FirmwareError(
            .sizeMismatch,
            "\(what) \(release.url): the server sent more than the \(release.size) bytes the feed declares; "
                + "the download was stopped and deleted")
    }
}

/// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`).
private struct ContentRange {
    var start: Int64
    var end: Int64
    var total: Int64?

    init?(_ header: String?) {
        guard let header, header.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let start = Int64(bounds[0]), let end = Int64(bounds[1]), end >= start else {
            return nil
        }
        self.start = start
        self.end = end
        if parts[1] == "*" {
            total = nil
        } else {
            guard let total = Int64(parts[1]) else { return nil }
            self.total = total
        }
    }
}
