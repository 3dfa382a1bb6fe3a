import Foundation
import LifeboatCore

#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of one upload, kept in a private file until they go up, with a small record beside it
/// (`*.json`: the object name and, once there is one, the upload session's URL) so that a later run
/// can cancel the session and remove the file when this process dies mid-upload.
///
/// Graph needs a file's total size in every fragment, before the first one; an archive's size is
/// known only when it is complete. The file is created `0600` in a `0700` folder: it holds an
/// encrypted archive, and the record holds a pre-authenticated upload URL.
final class UploadSpool {
    let objectName: String
    let dataPath: String
    let recordPath: String
    private var fd: Int32
    private(set) var size: Int64 = 0

    /// A leftover of an upload that never finished.
    struct Leftover {
        var objectName: String
        var uploadURL: String?
        var dataPath: String
        var recordPath: String
    }

    init(directory: String, objectName: String) throws {
        try Self.makeDirectory(directory)
        let base = directory + "/" + UUID().uuidString.lowercased()
        self.objectName = objectName
        dataPath = base + ".spool"
        recordPath = base + ".json"
        try Self.writeRecord(recordPath, objectName: objectName, uploadURL: nil)
        fd = open(dataPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = errnoText()
            unlink(recordPath)
            throw StoreError(.io, "cannot create the upload spool file \(dataPath): \(reason)")
        }
    }

    deinit { close() }

    /// Appends `bytes` at the end.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + offset, bytes.count - offset, off_t(size))
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError(
                    errno == ENOSPC ? .storageFull : .io,
                    "cannot write the upload spool file \(dataPath): \(errnoText())")
            }
            offset += n
            size += Int64(n)
        }
    }

    /// Fills `buffer` from `offset` (less only at the end of the file); returns how much was read.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = pread(fd, buffer.baseAddress! + filled, buffer.count - filled, off_t(offset + Int64(filled)))
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError(.io, "cannot read the upload spool file \(dataPath): \(errnoText())")
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Notes the session the bytes go to, so that a later run can cancel it.
    func record(uploadURL: String?) {
        try? Self.writeRecord(recordPath, objectName: objectName, uploadURL: uploadURL)
    }

    /// Closes and deletes the file and its record.
    func remove() {
        close()
        unlink(dataPath)
        unlink(recordPath)
    }

    private func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: Leftovers

    /// The uploads in `directory` whose files are still there.
    static func leftovers(in directory: String) -> [Leftover] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            let recordPath = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: recordPath),
                let fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                let objectName = fields["object"] as? String
            else { return nil }
            return Leftover(
                objectName: objectName, uploadURL: fields["upload_url"] as? String,
                dataPath: String(recordPath.dropLast(".json".count)) + ".spool", recordPath: recordPath)
        }
    }

    private static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError(.io, "cannot create the upload spool folder \(path): \(error)")
        }
    }

    private static func writeRecord(_ path: String, objectName: String, uploadURL: String?) throws {
        var fields: [String: Any] = ["object": objectName]
        if let uploadURL { fields["upload_url"] = uploadURL }
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(.io, "cannot create \(temporary): \(errnoText())") }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        _ = Glibc.close(fd)
        guard written == data.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw StoreError(.io, "cannot write \(path): \(errnoText())")
        }
    }
}
