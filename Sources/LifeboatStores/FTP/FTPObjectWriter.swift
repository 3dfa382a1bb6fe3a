import LifeboatCore
import LifeboatCrypto
import LifeboatCurl

/// An upload to `NAME.partial` on its own connection; `commit` checks and renames it.
final class FTPObjectWriter: ObjectWriter {
    private let store: FTPStore
    private let facts: FTPStore.ServerFacts
    private let objectName: String
    private let handle: CurlHandle
    private let upload: CurlStreamingUpload
    private let hasher: SHA256Hasher?
    private var written: Int64 = 0
    private var state = State.open

    private enum State { case open, committed, aborted }

    init(
        store: FTPStore, facts: FTPStore.ServerFacts, objectName: String, handle: CurlHandle,
        upload: CurlStreamingUpload
    ) {
        self.store = store
        self.facts = facts
        self.objectName = objectName
        self.handle = handle
        self.upload = upload
        hasher = facts.hashCommand == nil ? nil : SHA256Hasher()
    }

    deinit {
        // A writer dropped without commit or abort (e.g. a crash in the caller) is aborted.
        if state == .open { abort() }
    }

    private var partialPath: String { store.absolutePath(objectName + FTPStore.partialSuffix, facts) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard state == .open else { throw StoreError(.io, "\(store): upload of \(objectName) is already closed") }
        do {
            try upload.write(bytes)
        } catch let error as CurlError {
            throw store.storeError(error, "upload of \(objectName)")
        }
        hasher?.update(bytes)
        written += Int64(bytes.count)
    }

    func commit() throws -> StoredObject {
        guard state == .open else { throw StoreError(.io, "\(store): upload of \(objectName) is already closed") }
        state = .committed
        do {
            var answeredFailure = false
            do {
                _ = try upload.finish()
            } catch let error as CurlError where error.responseCode == 426 {
                // vsftpd 3.0 over TLS 1.3 may answer "426 Failure reading network stream" after the
                // last byte, with the file whole or cut short: the size check below decides.
                answeredFailure = true
            }
            var verification = try check()
            if answeredFailure { verification += " (after a 426 reply to the transfer)" }
            _ = try handle.perform(
                store.commandTransfer(["RNFR \(partialPath)", "RNTO \(store.absolutePath(objectName, facts))"]))
            return StoredObject(name: objectName, size: written, verification: verification)
        } catch let error as CurlError {
            removePartial()
            throw store.storeError(error, "upload of \(objectName)")
        } catch {
            removePartial()
            throw error
        }
    }

    /// Compares the server's size (and digest, when it can compute one) with what was sent.
    private func check() throws -> String {
        let size = try store.size(of: partialPath, handle: handle)
        guard size == written else {
            throw StoreError(
                .integrity,
                "\(store): \(objectName) has \(size.map(String.init) ?? "no") bytes on the server after sending \(written)")
        }
        guard let hasher, let command = facts.hashCommand else { return "size via SIZE" }
        let expected = Hex.encode(hasher.finalize())
        let transfer =
            switch command {
            case .hash: store.commandTransfer(["OPTS HASH SHA-256", "HASH \(partialPath)"])
            case .xsha256: store.commandTransfer(["XSHA256 \(partialPath)"])
            }
        let reply = try handle.perform(transfer).headerLines.last { $0.hasPrefix("213 ") || $0.hasPrefix("250 ") } ?? ""
        let words = reply.split(separator: " ").map { $0.lowercased() }
        guard words.contains(expected) else {
            throw StoreError(
                .integrity, "\(store): the server's SHA-256 of \(objectName) does not match what was sent (\(reply))")
        }
        return "size via SIZE, sha256 via \(command == .hash ? "HASH" : "XSHA256")"
    }

    func abort() {
        guard state != .aborted else { return }
        let wasOpen = state == .open
        state = .aborted
        if wasOpen { upload.abort() }
        removePartial()
    }

    private func removePartial() {
        var transfer = store.commandTransfer(["*DELE \(partialPath)"])
        transfer.connectTimeout = 10
        _ = try? handle.perform(transfer)
    }
}
