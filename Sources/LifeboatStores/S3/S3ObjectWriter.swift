import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl

/// An upload to S3: one PUT when the object stays within `multipart_threshold`, else a multipart
/// upload whose parts go up `concurrency` at a time on their own threads.
///
/// Bytes are gathered into whole parts. Until more than the threshold has arrived the parts wait
/// (the object may still fit one PUT); after that each full part is handed to a thread that hashes
/// it (MD5 for `Content-MD5`, SHA-256 for the signature), uploads it with retries, and checks the
/// ETag S3 answers. At most ``S3StoreConfiguration/bufferBudget`` bytes are held: a writer that
/// gets ahead of the uploads waits for a part buffer to come free.
final class S3ObjectWriter: ObjectWriter, @unchecked Sendable {
    // @unchecked: the mutable state below is read and written under `condition` only; part
    // buffers move between the producer and one upload thread at a time.
    private let store: S3Store
    private let key: String
    private let partSize: Int
    private let maxBuffers: Int
    private let threshold: Int

    private let condition = NSCondition()
    private let cancellation = CurlCancellation()
    /// The part being filled (producer only).
    private var current: PartBuffer?
    /// Full parts held back while the object may still go up in one PUT.
    private var pending: [PartBuffer] = []
    /// Buffers that exist: pending, in flight, being filled, and free ones kept for reuse.
    private var allocated = 0
    private var free: [PartBuffer] = []
    private var inFlight = 0
    private var total: Int64 = 0
    private var uploadID: String?
    private var nextPart = 1
    private var completedParts: [Int: (etag: String, md5: [UInt8])] = [:]
    private var failure: (any Error)?
    private var finished = false

    init(store: S3Store, key: String) {
        self.store = store
        self.key = key
        partSize = store.configuration.partSize
        threshold = store.configuration.multipartThreshold
        maxBuffers = store.configuration.bufferBudget / store.configuration.partSize
    }

    deinit {
        if !finished { abort() }
    }

    // MARK: ObjectWriter

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw StoreError(.io, "\(store): upload of \(key): write after commit or abort") }
        var offset = 0
        while offset < bytes.count {
            let buffer = try current ?? takeBuffer()
            current = buffer
            let n = buffer.append(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += n
            total += Int64(n)
            if uploadID == nil, total > Int64(threshold) { try startMultipart() }
            if buffer.isFull {
                current = nil
                try partIsFull(buffer)
            }
        }
    }

    func commit() throws -> StoredObject {
        guard !finished else { throw StoreError(.io, "\(store): upload of \(key): commit after commit or abort") }
        if uploadID == nil {
            let parts = pending + (current.map { [$0] } ?? [])
            return try finish { try putWhole(parts) }
        }
        if let last = current {
            current = nil
            try dispatch(last)
        }
        return try finish { try completeMultipart() }
    }

    func abort() {
        condition.lock()
        let wasFinished = finished
        finished = true
        condition.unlock()
        if wasFinished && uploadID == nil { return }
        cancellation.cancel()
        condition.withLock {
            while inFlight > 0 { condition.wait() }
        }
        if let uploadID {
            self.uploadID = nil
            do {
                try store.abortUpload(key: key, uploadID: uploadID)
            } catch {
                store.logger?.warning(
                    "Could not abort an S3 multipart upload; the next run's cleanup aborts it",
                    metadata: ["store": "\(store.name)", "key": "\(key)", "error": "\(error)"])
            }
        }
        releaseBuffers()
    }

    // MARK: Buffers

    /// A buffer for the next part: a free one, a new one within the budget, or, when the budget is
    /// spent, the next one an upload gives back.
    private func takeBuffer() throws -> PartBuffer {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        if let buffer = free.popLast() { return buffer }
        if allocated < maxBuffers {
            allocated += 1
            return PartBuffer(capacity: partSize)
        }
        if uploadID == nil {
            // Every buffer is full and more bytes are coming: the object is over the threshold.
            condition.unlock()
            defer { condition.lock() }
            try startMultipart()
        }
        while free.isEmpty && failure == nil { condition.wait() }
        if let failure { throw failure }
        return free.popLast()!
    }

    private func giveBack(_ buffer: PartBuffer) {
        buffer.count = 0
        free.append(buffer)
    }

    private func releaseBuffers() {
        condition.withLock {
            free.removeAll()
            pending.removeAll()
            current = nil
        }
    }

    // MARK: Parts

    private func partIsFull(_ part: PartBuffer) throws {
        if uploadID != nil {
            try dispatch(part)
            return
        }
        condition.withLock { pending.append(part) }
    }

    /// Creates the multipart upload and sends the parts held back so far.
    private func startMultipart() throws {
        var request = S3Store.S3Request("POST", key: key)
        request.query = [("uploads", "")]
        request.headers = store.objectHeaders()
        let what = "start of the multipart upload of \(key)"
        let response = try store.retrier.run(what, store: store.name) {
            let response = try store.send(request, what: what)
            try store.expect(response, [200], what)
            return response
        }
        guard let id = S3XML(response.body).value("UploadId"), !id.isEmpty else {
            throw StoreError(.io, "\(store): \(what) failed: the answer has no UploadId")
        }
        uploadID = id
        let held = condition.withLock {
            let held = pending
            pending.removeAll()
            return held
        }
        for part in held { try dispatch(part) }
    }

    /// Hands a full part to an upload thread.
    private func dispatch(_ part: PartBuffer) throws {
        let number = nextPart
        guard number <= S3StoreConfiguration.maximumParts else {
            throw StoreError(
                .io,
                "\(store): upload of \(key) failed: more than \(S3StoreConfiguration.maximumParts) parts; "
                    + "raise part_size")
        }
        nextPart += 1
        try condition.withLock {
            if let failure { throw failure }
            inFlight += 1
        }
        let uploadID = uploadID!
        let thread = Thread { [self] in
            let result = Result { try uploadPart(part, number: number, uploadID: uploadID) }
            condition.withLock {
                inFlight -= 1
                switch result {
                case .success(let etag): completedParts[number] = etag
                case .failure(let error): if failure == nil { failure = error }
                }
                giveBack(part)
                condition.broadcast()
            }
        }
        thread.name = "lifeboat-s3-part"
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func uploadPart(_ part: PartBuffer, number: Int, uploadID: String) throws -> (etag: String, md5: [UInt8]) {
        let md5 = MessageDigest.hash(.md5, part.bytes)
        var request = S3Store.S3Request("PUT", key: key)
        request.query = [("partNumber", "\(number)"), ("uploadId", uploadID)]
        request.headers = [("Content-MD5", Data(md5).base64EncodedString())]
        request.body = [part]
        request.payloadHash = Hex.encode(MessageDigest.hash(.sha256, part.bytes))
        request.cancellation = cancellation
        let what = "upload of part \(number) of \(key)"
        let response = try store.retrier.run(what, store: store.name) {
            if cancellation.isCancelled { throw StoreError(.io, "\(store): \(what) was abandoned") }
            let response = try store.send(request, what: what)
            try store.expect(response, [200], what)
            return response
        }
        let etag = response.header("ETag").map(S3Store.unquote) ?? ""
        guard etag == Hex.encode(md5) else {
            throw StoreError(
                .integrity,
                "\(store): \(what): the server's ETag \(etag.isEmpty ? "(none)" : etag) is not the MD5 of the part sent")
        }
        return (etag, md5)
    }

    // MARK: Finishing

    private func finish(_ body: () throws -> StoredObject) throws -> StoredObject {
        do {
            let stored = try body()
            condition.withLock { finished = true }
            releaseBuffers()
            return stored
        } catch {
            abort()
            throw error
        }
    }

    /// One PUT with `Content-MD5` and `x-amz-checksum-sha256`; S3 refuses it if either differs.
    private func putWhole(_ parts: [PartBuffer]) throws -> StoredObject {
        let md5 = MessageDigest(.md5)
        let sha256 = MessageDigest(.sha256)
        for part in parts {
            md5.update(part.bytes)
            sha256.update(part.bytes)
        }
        let md5Digest = md5.finalize()
        let sha256Digest = sha256.finalize()
        var request = S3Store.S3Request("PUT", key: key)
        request.headers =
            [
                ("Content-MD5", Data(md5Digest).base64EncodedString()),
                ("x-amz-checksum-sha256", Data(sha256Digest).base64EncodedString()),
            ] + store.objectHeaders()
        request.body = parts
        request.payloadHash = Hex.encode(sha256Digest)
        let what = "upload of \(key)"
        let response = try store.retrier.run(what, store: store.name) {
            let response = try store.send(request, what: what)
            try store.expect(response, [200], what)
            return response
        }
        let etag = response.header("ETag").map(S3Store.unquote)
        // An ETag that is not the MD5 (SSE-KMS, some gateways) proves nothing; Content-MD5 already did.
        if let etag, etag.count == 32, etag != Hex.encode(md5Digest) {
            throw StoreError(.integrity, "\(store): \(what): the server's ETag \(etag) is not the MD5 of what was sent")
        }
        return try confirm(verification: "Content-MD5 and SHA-256 checked by the server, size")
    }

    /// Waits for the parts, completes the upload, and checks the multipart ETag and the size.
    private func completeMultipart() throws -> StoredObject {
        let parts = try condition.withLock {
            while inFlight > 0 { condition.wait() }
            if let failure { throw failure }
            return completedParts.sorted { $0.key < $1.key }
        }
        guard parts.map(\.key) == Array(1..<nextPart) else {
            throw StoreError(.io, "\(store): upload of \(key) failed: parts are missing")
        }
        let uploadID = uploadID!
        var xml = "<CompleteMultipartUpload>"
        for (number, part) in parts {
            xml += "<Part><PartNumber>\(number)</PartNumber><ETag>\"\(part.etag)\"</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let combined = MessageDigest(.md5)
        for (_, part) in parts { part.md5.withUnsafeBytes { combined.update($0) } }
        let expectedETag = Hex.encode(combined.finalize()) + "-\(parts.count)"

        var request = S3Store.S3Request("POST", key: key)
        request.query = [("uploadId", uploadID)]
        request.headers = [("Content-Type", "application/xml")]
        request.body = [PartBuffer(copying: Array(xml.utf8))]
        let what = "completion of the upload of \(key)"
        let etag: String? = try store.retrier.run(what, store: store.name) {
            let response = try store.send(request, what: what)
            if response.status == 404, S3XML(response.body).value("Code") == "NoSuchUpload",
                let head = try store.head(key), head.etag == expectedETag
            {
                return head.etag  // an earlier try completed it; its answer was lost
            }
            try store.expect(response, [200], what)
            // S3 may answer 200 and still fail: the error is then in the body.
            let document = S3XML(response.body)
            if document.elements("Error").first != nil || document.value("Code") != nil {
                throw store.error(response, what, status: 500)
            }
            return document.value("ETag").map(S3Store.unquote)
        }
        self.uploadID = nil
        if let etag, etag != expectedETag {
            throw StoreError(
                .integrity, "\(store): \(what): the server's ETag \(etag) is not \(expectedETag), the ETag of the parts sent")
        }
        return try confirm(verification: "\(parts.count) parts with Content-MD5, multipart ETag, size")
    }

    /// Reads the object back (HEAD) and checks its size.
    private func confirm(verification: String) throws -> StoredObject {
        let what = "check of \(key) after upload"
        let head = try store.retrier.run(what, store: store.name) { try store.head(key) }
        guard let head else {
            throw StoreError(.integrity, "\(store): \(what): the object is missing right after its upload")
        }
        guard head.size == total else {
            throw StoreError(
                .integrity, "\(store): \(what): the server holds \(head.size) bytes, \(total) were sent")
        }
        return StoredObject(name: key, size: total, modified: head.modified, verification: verification)
    }
}

/// A fixed-size byte buffer for one part, reused from part to part, so full parts move between
/// threads without copies and without reallocating (and faulting in) 16 MiB each time.
final class PartBuffer: @unchecked Sendable {
    // @unchecked: a buffer is filled by the producer, then read by one upload thread, never both.
    private let storage: UnsafeMutableRawBufferPointer
    var count = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: max(1, capacity), alignment: 64)
    }

    convenience init(copying bytes: [UInt8]) {
        self.init(capacity: bytes.count)
        bytes.withUnsafeBytes { _ = append($0) }
    }

    deinit { storage.deallocate() }

    var capacity: Int { storage.count }
    var isFull: Bool { count == storage.count }

    /// The bytes filled so far.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

    /// Copies as much of `source` as fits; returns how much that was.
    func append(_ source: UnsafeRawBufferPointer) -> Int {
        let n = min(storage.count - count, source.count)
        if n > 0 { (storage.baseAddress! + count).copyMemory(from: source.baseAddress!, byteCount: n) }
        count += n
        return n
    }
}
