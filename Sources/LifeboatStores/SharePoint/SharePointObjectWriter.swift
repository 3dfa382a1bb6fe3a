import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl

/// One upload to a SharePoint library: a simple PUT for at most 4 MiB, else an upload session.
///
/// Bytes are hashed (QuickXorHash) as they arrive and held in memory up to the simple-upload limit;
/// beyond it they go to a spool file (Graph wants the total size in every fragment). At commit:
/// - a small object goes up in one `PUT …:/content?@microsoft.graph.conflictBehavior=replace`;
/// - a large one through `createUploadSession` (conflict behaviour `replace`, set explicitly: Graph's
///   default is `fail`, which would turn an upload tried again after a lost answer into a 409, and
///   `rename` would store it under another name). Fragments of `chunk_size` go up in order with
///   `Content-Range: bytes A-B/TOTAL`, without the access token (the upload URL is pre-authenticated),
///   each retried alone. After a failed fragment the writer asks the session (`GET uploadUrl`) which
///   bytes it expects next and resumes there, so fragments Graph holds are never sent again. A
///   session Graph no longer knows (404: it expired) is started over from the spool file.
///
/// Graph creates the file when the last byte arrives; its answer (the driveItem) is checked against
/// the size and QuickXorHash computed here, and the file is deleted when they differ. Memory: the
/// simple-upload buffer, or one fragment.
final class SharePointObjectWriter: ObjectWriter {
    private let store: SharePointStore
    private let objectName: String
    private let drive: String
    /// The path from the library's root.
    private let path: String
    private let chunkSize: Int
    private var memory: [UInt8] = []
    private var spool: UploadSpool?
    private var hash = QuickXorHash()
    private var written: Int64 = 0
    /// The upload URL of the open session, to cancel on abort.
    private var session: String?
    /// Fragments Graph accepted, over all sessions of this upload.
    private var fragmentsSent = 0
    private var state = State.open

    private enum State { case open, failed, committed, aborted }

    /// How often an expired session is started over before the upload is given up.
    static let maximumRestarts = 2

    /// Graph no longer knows the session (404): it expired, was cancelled, or finished with an
    /// answer that was lost.
    private struct SessionGone: Error {
        /// Whether the last fragment had been sent (the file may exist after all).
        var lastFragmentSent: Bool
    }

    private enum FragmentOutcome {
        /// Graph expects more, from this offset.
        case accepted(next: Int64)
        case finished(GraphJSON.DriveItem)
    }

    init(store: SharePointStore, objectName: String, drive: String, path: String) {
        self.store = store
        self.objectName = objectName
        self.drive = drive
        self.path = path
        chunkSize = store.configuration.chunkSize
    }

    deinit {
        // A writer dropped without commit or abort (the caller failed) cleans up after itself.
        if state == .open || state == .failed { abort() }
    }

    private var what: String { "upload of \(objectName)" }
    private var fileName: String { String(path.split(separator: "/").last!) }

    // MARK: ObjectWriter

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try checkOpen()
        guard !bytes.isEmpty else { return }
        do {
            hash.update(bytes)
            written += Int64(bytes.count)
            if spool == nil, memory.count + bytes.count <= SharePointStoreConfiguration.simpleUploadLimit {
                memory.append(contentsOf: bytes)
                return
            }
            if spool == nil {
                let opened = try UploadSpool(directory: store.spoolDirectory, objectName: objectName)
                spool = opened
                try memory.withUnsafeBytes { try opened.append($0) }
                memory = []
            }
            try spool!.append(bytes)
        } catch {
            state = .failed
            throw error
        }
    }

    func commit() throws -> StoredObject {
        try checkOpen()
        do {
            let stored: StoredObject
            if let spool {
                let item = try uploadInSession(spool)
                stored = try verify(item, how: "\(fragmentsSent) fragment\(fragmentsSent == 1 ? "" : "s"), ")
                spool.remove()
                self.spool = nil
            } else {
                stored = try verify(try putWhole(), how: "")
                memory = []
            }
            state = .committed
            return stored
        } catch {
            state = .failed
            throw error
        }
    }

    func abort() {
        guard state == .open || state == .failed else { return }
        state = .aborted
        if let session {
            self.session = nil
            store.cancelSession(session, objectName: objectName)
        }
        spool?.remove()
        spool = nil
        memory = []
    }

    private func checkOpen() throws {
        guard state == .open else {
            throw StoreError(.io, "\(store): \(what) is already \(state == .failed ? "failed" : "closed")")
        }
    }

    // MARK: Simple upload

    /// One PUT of the whole object (at most 4 MiB), replacing a file of the same name.
    private func putWhole() throws -> GraphJSON.DriveItem {
        var request = HTTPRequest(
            "PUT", store.actionURL(drive, path, "content") + "?@microsoft.graph.conflictBehavior=replace",
            headers: [("Content-Type", "application/octet-stream")])
        request.body = .bytes(memory)
        let response = try store.retrier.run(what, store: store.name) {
            let response = try store.sendAuthorized(request, what: what)
            guard response.status == 200 || response.status == 201 else { throw store.failure(response, what) }
            return response
        }
        return try driveItem(response)
    }

    // MARK: Upload session

    /// Uploads the spool file through upload sessions, starting over when Graph forgets one.
    private func uploadInSession(_ spool: UploadSpool) throws -> GraphJSON.DriveItem {
        var restarts = 0
        while true {
            let uploadURL = try createSession()
            session = uploadURL
            spool.record(uploadURL: uploadURL)
            do {
                let item = try sendFragments(spool, to: uploadURL)
                session = nil
                return item
            } catch let gone as SessionGone {
                session = nil
                spool.record(uploadURL: nil)
                if gone.lastFragmentSent, let item = try finishedMeanwhile() {
                    fragmentsSent += 1
                    return item
                }
                guard restarts < Self.maximumRestarts else {
                    throw StoreError(
                        .unavailable,
                        "\(store): \(what) failed: Graph forgot the upload session \(restarts + 1) times (HTTP 404: it "
                            + "expired); the upload was given up")
                }
                restarts += 1
                store.logger?.warning(
                    "Upload session expired; starting the upload again",
                    metadata: ["store": "\(store.name)", "object": "\(objectName)", "restart": "\(restarts)"])
            }
        }
    }

    /// `POST …:/createUploadSession`; returns the upload URL.
    private func createSession() throws -> String {
        let what = "start of the upload session of \(objectName)"
        var request = HTTPRequest(
            "POST", store.actionURL(drive, path, "createUploadSession"), headers: [("Content-Type", "application/json")]
        )
        let body: [String: Any] = ["item": ["@microsoft.graph.conflictBehavior": "replace", "name": fileName]]
        request.body = .bytes(Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])))
        let response = try store.retrier.run(what, store: store.name) {
            let response = try store.sendAuthorized(request, what: what)
            guard response.status == 200 || response.status == 201 else { throw store.failure(response, what) }
            return response
        }
        guard let uploadURL = GraphJSON.uploadSession(response.body)?.uploadURL else {
            throw StoreError(
                .io, "\(store): \(what) failed: the answer holds no uploadUrl: \(HTTPFailure.excerpt(response.body))")
        }
        // The URL is a credential: named in no message.
        guard let url = URL(string: uploadURL), let scheme = url.scheme, url.host != nil,
            scheme == "https" || (scheme == "http" && store.configuration.allowInsecure)
        else {
            throw StoreError(.io, "\(store): \(what) failed: the uploadUrl Graph answered is not an https:// URL")
        }
        return uploadURL
    }

    /// Sends the spool file in fragments from where Graph expects them; returns the driveItem.
    private func sendFragments(_ spool: UploadSpool, to uploadURL: String) throws -> GraphJSON.DriveItem {
        let total = spool.size
        var chunk = [UInt8](repeating: 0, count: Int(min(Int64(chunkSize), total)))
        var offset: Int64 = 0
        var resuming = false
        var lastFragmentSent = false
        // The end of the bytes sent so far: Graph cannot expect anything beyond it.
        var sentEnd: Int64 = 0
        while true {
            let outcome = try store.retrier.run(what, store: store.name) { () throws -> FragmentOutcome in
                if resuming {
                    // After a failure Graph holds the fragments it confirmed, and maybe the one that failed.
                    let expected = try expectedOffset(uploadURL, total: total, lastFragmentSent: lastFragmentSent)
                    guard expected <= sentEnd else {
                        throw StoreError(
                            .io,
                            "\(store): \(what) failed: the session expects bytes from \(expected), but only "
                                + "\(sentEnd) were sent")
                    }
                    offset = expected
                    resuming = false
                    store.logger?.info(
                        "Resuming upload where the session expects it",
                        metadata: ["store": "\(store.name)", "object": "\(objectName)", "offset": "\(offset)"])
                }
                let count = Int(min(Int64(chunk.count), total - offset))
                let read = try chunk.withUnsafeMutableBytes {
                    try spool.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]))
                }
                guard read == count else {
                    throw StoreError(
                        .io, "\(store): \(what) failed: the spool file \(spool.dataPath) is shorter than \(total) bytes"
                    )
                }
                resuming = true
                lastFragmentSent = offset + Int64(count) == total
                sentEnd = max(sentEnd, offset + Int64(count))
                let outcome = try putFragment(
                    count == chunk.count ? chunk : Array(chunk[..<count]), at: offset, total: total, to: uploadURL)
                resuming = false
                return outcome
            }
            fragmentsSent += 1
            switch outcome {
            case .accepted(let next):
                offset = next
            case .finished(let item):
                return item
            }
        }
    }

    /// One `PUT uploadUrl` with `Content-Range: bytes A-B/TOTAL`, without the access token.
    private func putFragment(_ bytes: [UInt8], at offset: Int64, total: Int64, to uploadURL: String) throws
        -> FragmentOutcome
    {
        let end = offset + Int64(bytes.count)
        let what = "\(self.what): fragment \(offset)-\(end - 1)/\(total)"
        // No `Expect: 100-continue`: a fragment is a known size on a connection already in use.
        var request = HTTPRequest(
            "PUT", uploadURL, headers: [("Content-Range", "bytes \(offset)-\(end - 1)/\(total)"), ("Expect", "")])
        request.body = .bytes(bytes)
        let response = try store.http.send(request, what: what)
        switch response.status {
        case 202:
            let expected = GraphJSON.uploadSession(response.body).flatMap {
                GraphJSON.firstExpectedOffset($0.nextExpectedRanges)
            }
            let next = expected ?? end
            guard next > offset, next <= total else {
                throw StoreError(
                    .unavailable, "\(store): \(what): Graph accepted the fragment but expects bytes from \(next) next")
            }
            return .accepted(next: next)
        case 200, 201:
            guard end == total else {
                throw StoreError(.io, "\(store): \(what) failed: Graph finished the file before its last fragment")
            }
            return .finished(try driveItem(response))
        case 404:
            throw SessionGone(lastFragmentSent: end == total)
        case 416:
            // Graph has (some of) these bytes already: ask it where to go on.
            throw StoreError(
                .unavailable,
                "\(store): \(what): Graph has received these bytes already (HTTP 416); asking where to resume")
        case 401:
            throw StoreError(
                .unauthorized,
                "\(store): \(what) failed: the pre-authenticated upload URL was refused (\(store.graphError(response)))"
            )
        default:
            throw store.failure(response, what)
        }
    }

    /// Where Graph expects the next byte (`GET uploadUrl`, without the access token).
    private func expectedOffset(_ uploadURL: String, total: Int64, lastFragmentSent: Bool) throws -> Int64 {
        let what = "status query of the \(self.what)"
        let response = try store.http.send(HTTPRequest("GET", uploadURL), what: what)
        switch response.status {
        case 200:
            guard let ranges = GraphJSON.uploadSession(response.body)?.nextExpectedRanges,
                let offset = GraphJSON.firstExpectedOffset(ranges), offset >= 0, offset < total
            else {
                throw StoreError(
                    .unavailable,
                    "\(store): \(what): the session names no range it expects: \(HTTPFailure.excerpt(response.body))")
            }
            return offset
        case 404:
            throw SessionGone(lastFragmentSent: lastFragmentSent)
        default:
            throw store.failure(response, what)
        }
    }

    /// After the last fragment's answer was lost and the session is gone: the file, when Graph
    /// made it from this upload (its size and QuickXorHash are this upload's).
    private func finishedMeanwhile() throws -> GraphJSON.DriveItem? {
        guard let item = try store.item(at: path, drive: drive, what: "check of \(objectName) after a lost answer"),
            item.isFile, item.size == written, item.quickXorHash == hash.base64
        else { return nil }
        return item
    }

    // MARK: Verification

    private func driveItem(_ response: CurlResponse) throws -> GraphJSON.DriveItem {
        guard let item = GraphJSON.driveItem(response.body) else {
            throw StoreError(
                .io,
                "\(store): \(what) failed: Graph's answer is not a driveItem: \(HTTPFailure.excerpt(response.body))")
        }
        return item
    }

    /// Compares the driveItem Graph answered with what was sent; deletes the file when they differ.
    private func verify(_ answered: GraphJSON.DriveItem, how: String) throws -> StoredObject {
        var item = answered
        if item.quickXorHash == nil {
            // Graph may compute hashes after answering: ask once more.
            item = try store.item(at: path, drive: drive, what: "check of \(objectName)") ?? item
        }
        let ours = hash.base64
        var problems: [String] = []
        // SharePoint names are case-insensitive: a file replaced keeps its name's case.
        if item.name.lowercased() != fileName.lowercased() { problems.append("it was stored as '\(item.name)'") }
        if item.size != written { problems.append("\(item.size) bytes, \(written) were sent") }
        if let theirs = item.quickXorHash, theirs != ours {
            problems.append("quickXorHash \(theirs), the data sent has \(ours)")
        }
        guard problems.isEmpty else {
            var outcome = "it was deleted"
            do {
                try store.deleteItem(id: item.id, drive: drive, what: "delete of \(objectName) after a failed check")
            } catch {
                outcome = "deleting it failed too: \(error)"
            }
            throw StoreError(
                .integrity,
                "\(store): \(objectName) on SharePoint is not what was sent (\(problems.joined(separator: "; "))); "
                    + outcome)
        }
        let verification =
            item.quickXorHash == nil
            ? "\(how)size checked (SharePoint reported no quickXorHash)" : "\(how)quickXorHash and size checked"
        return StoredObject(name: objectName, size: written, modified: item.modified, verification: verification)
    }
}
