import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl

/// One resumable upload session (GCS JSON API, `uploadType=resumable`), fed in chunks.
///
/// The writer keeps the bytes GCS has not confirmed yet, at most one chunk: a full chunk goes up as
/// `Content-Range: bytes A-B/*`, the last one at commit as `bytes A-B/TOTAL` (or `bytes */TOTAL`
/// when nothing is left), with the CRC-32C and MD5 of the whole object in `X-Goog-Hash`. A 308
/// answer says in `Range` how much GCS holds; what it did not keep stays in the buffer and goes with
/// the next chunk. After a failed chunk (connection lost, 5xx, 429) the writer asks GCS for its
/// offset (`bytes */*`) and resumes there, so bytes GCS holds are never sent again.
///
/// GCS makes the object visible only when the last chunk arrives; its answer (the object resource)
/// is then checked against the size, CRC-32C and MD5 computed here, and the object deleted when
/// they differ.
final class GCSObjectWriter: ObjectWriter {
    private let store: GCSStore
    private let objectName: String
    /// The session URI, from the `Location` of the POST that opened it.
    private let session: String
    private let chunkSize: Int
    /// The bytes from `persisted` on that GCS has not confirmed: never more than one chunk.
    private var buffer: [UInt8] = []
    /// How many bytes GCS has confirmed (its offset).
    private var persisted: Int64 = 0
    private var written: Int64 = 0
    private var crc = CRC32C()
    private let md5 = MessageDigest(.md5)
    private var state = State.open

    private enum State { case open, failed, committed, aborted }

    /// GCS no longer knows the session (it expired a week after it started, or was cancelled): no
    /// retry of a chunk can help.
    private struct SessionGone: Error {
        var status: Int
    }

    init(store: GCSStore, objectName: String, session: String) {
        self.store = store
        self.objectName = objectName
        self.session = session
        chunkSize = store.configuration.chunkSize
    }

    deinit {
        // A writer dropped without commit or abort (the caller failed) cancels its session.
        if state == .open || state == .failed { abort() }
    }

    private var what: String { "upload of \(objectName)" }

    // MARK: ObjectWriter

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try checkOpen()
        guard !bytes.isEmpty else { return }
        crc.update(bytes)
        md5.update(bytes)
        written += Int64(bytes.count)
        var offset = 0
        do {
            while offset < bytes.count {
                let n = min(chunkSize - buffer.count, bytes.count - offset)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                offset += n
                if buffer.count == chunkSize { _ = try sendChunk(total: nil) }
            }
        } catch {
            state = .failed
            throw error
        }
    }

    func commit() throws -> StoredObject {
        try checkOpen()
        do {
            while true {
                // Each round either finishes or GCS kept part of the chunk: the rest goes again.
                if let object = try sendChunk(total: written) {
                    let stored = try verify(object)
                    state = .committed
                    return stored
                }
            }
        } catch {
            state = .failed
            throw error
        }
    }

    func abort() {
        guard state == .open || state == .failed else { return }
        state = .aborted
        // Cancelling the session frees it at once (GCS answers 499); otherwise it lapses in a week.
        var request = HTTPRequest("DELETE", session)
        request.headers = [("Content-Length", "0")]
        _ = try? store.sendToSession(request, session: session, what: "cancellation of the \(what)")
    }

    private func checkOpen() throws {
        guard state == .open else {
            throw StoreError(.io, "\(store): \(what) is already \(state == .failed ? "failed" : "closed")")
        }
    }

    // MARK: Chunks

    /// Sends the buffer as the next chunk, the last one when `total` is given, trying again after
    /// failures from the offset GCS reports. Returns the object resource once GCS has it all.
    private func sendChunk(total: Int64?) throws -> GCSJSON.Object? {
        var resuming = false
        do {
            return try store.retrier.run(what, store: store.name) { () throws -> GCSJSON.Object? in
                if resuming {
                    // After a failure GCS may hold all, some or none of what was sent.
                    if let object = try queryStatus(total: total) { return object }
                    // It kept part of a chunk: the rest waits for more bytes to make a whole chunk again.
                    if total == nil && buffer.count < chunkSize { return nil }
                }
                resuming = true
                let object = try put(total: total)
                resuming = false
                return object
            }
        } catch let gone as SessionGone {
            throw StoreError(
                .unavailable,
                "\(store): \(what) failed: GCS no longer knows the upload session (HTTP \(gone.status)); it "
                    + "expired or was cancelled, and the upload must start again")
        }
    }

    /// One PUT of the buffer at GCS's offset.
    private func put(total: Int64?) throws -> GCSJSON.Object? {
        let count = buffer.count
        let range =
            count == 0
            ? "bytes */\(total ?? persisted)"
            : "bytes \(persisted)-\(persisted + Int64(count) - 1)/\(total.map(String.init) ?? "*")"
        // The request shares the buffer's storage; it is gone before the buffer changes, so dropping
        // what GCS confirmed copies nothing.
        let response = try { () throws -> CurlResponse in
            // No `Expect: 100-continue`: a chunk is a known size on a connection already in use.
            var request = HTTPRequest("PUT", session, headers: [("Content-Range", range), ("Expect", "")])
            if total != nil {
                request.headers.append(("X-Goog-Hash", "crc32c=\(crc.base64),md5=\(md5Base64)"))
            }
            request.body = .bytes(buffer)
            return try store.sendToSession(request, session: session, what: what)
        }()
        switch response.status {
        case 200, 201:
            return try finished(response, total: total)
        case 308:
            let before = persisted
            try advance(to: Self.persistedBytes(response))
            guard persisted > before else {
                throw StoreError(
                    .unavailable,
                    "\(store): \(what) failed: GCS kept none of the \(count) bytes sent at offset \(before)")
            }
            return nil
        case 404, 410:
            throw SessionGone(status: response.status)
        case 400 where total != nil && Self.isChecksumMismatch(response):
            throw StoreError(
                .integrity,
                "\(store): GCS refused \(objectName): what it received does not match the checksums of what "
                    + "was sent (\(store.failure(response, what).message))")
        default:
            throw store.failure(response, what)
        }
    }

    /// Asks GCS how much of the object it holds (an empty PUT with `bytes */*`, or `bytes */TOTAL`
    /// for the last chunk, which also finishes the object when GCS has it all).
    private func queryStatus(total: Int64?) throws -> GCSJSON.Object? {
        var request = HTTPRequest(
            "PUT", session, headers: [("Content-Range", "bytes */\(total.map(String.init) ?? "*")")])
        request.body = .bytes([])
        let response = try store.sendToSession(request, session: session, what: what)
        switch response.status {
        case 200, 201:
            return try finished(response, total: total)
        case 308:
            try advance(to: Self.persistedBytes(response))
            store.logger?.info(
                "Resuming upload at the server's offset",
                metadata: ["store": "\(store.name)", "object": "\(objectName)", "offset": "\(persisted)"])
            return nil
        case 404, 410:
            throw SessionGone(status: response.status)
        default:
            throw store.failure(response, "status query of the \(what)")
        }
    }

    /// The object resource that GCS answers once it has the whole object.
    private func finished(_ response: CurlResponse, total: Int64?) throws -> GCSJSON.Object {
        guard let total else {
            throw StoreError(.io, "\(store): \(what) failed: GCS finished the object before its last chunk was sent")
        }
        guard let object = GCSJSON.object(response.body) else {
            throw StoreError(
                .io,
                "\(store): \(what) failed: GCS's last answer is not an object resource: "
                    + HTTPFailure.excerpt(response.body))
        }
        persisted = total
        buffer.removeAll()
        return object
    }

    /// Drops from the buffer what GCS now confirms.
    private func advance(to offset: Int64) throws {
        guard offset >= persisted else {
            throw StoreError(
                .io,
                "\(store): \(what) failed: GCS now holds \(offset) bytes after confirming \(persisted); the upload "
                    + "must start again")
        }
        guard offset <= persisted + Int64(buffer.count) else {
            throw StoreError(
                .integrity,
                "\(store): \(what) failed: GCS says it holds \(offset) bytes, more than the "
                    + "\(persisted + Int64(buffer.count)) sent")
        }
        let accepted = Int(offset - persisted)
        if accepted == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeFirst(accepted)
        }
        persisted = offset
    }

    /// `Range: bytes=0-N` means N + 1 bytes; no `Range` means none.
    static func persistedBytes(_ response: CurlResponse) -> Int64 {
        guard let range = response.header("Range"), let dash = range.lastIndex(of: "-"),
            let last = Int64(range[range.index(after: dash)...].trimmingCharacters(in: .whitespaces))
        else { return 0 }
        return last + 1
    }

    private static func isChecksumMismatch(_ response: CurlResponse) -> Bool {
        let text = String(decoding: response.body, as: UTF8.self).lowercased()
        return text.contains("crc32c") || text.contains("md5") || text.contains("checksum") || text.contains("hash")
    }

    private var md5Base64: String { Data(md5.finalize()).base64EncodedString() }

    // MARK: Verification

    /// Compares GCS's object resource with what was sent; deletes the object when they differ.
    private func verify(_ object: GCSJSON.Object) throws -> StoredObject {
        var checked: [String] = []
        var problems: [String] = []
        func compare(_ label: String, _ theirs: String?, _ ours: String) {
            guard let theirs else { return }
            if theirs == ours { checked.append(label) } else { problems.append("\(label) \(theirs), sent \(ours)") }
        }
        if object.size == written {
            checked.append("size")
        } else {
            problems.append("\(object.size) bytes, sent \(written)")
        }
        compare("crc32c", object.crc32c, crc.base64)
        compare("md5", object.md5Hash, md5Base64)
        if object.crc32c == nil && object.md5Hash == nil { problems.append("GCS reported neither crc32c nor md5Hash") }
        if object.name != objectName { problems.append("stored as '\(object.name)'") }
        guard problems.isEmpty else {
            var outcome = "it was deleted"
            do {
                try store.delete(object.name, generation: object.generation)
            } catch {
                outcome = "deleting it failed too: \(error)"
            }
            throw StoreError(
                .integrity,
                "\(store): \(objectName) on GCS is not what was sent (\(problems.joined(separator: "; "))); \(outcome)")
        }
        let list =
            checked.count > 1 ? checked.dropLast().joined(separator: ", ") + " and " + checked.last! : checked[0]
        return StoredObject(name: objectName, size: written, modified: object.updated, verification: "\(list) checked")
    }
}
