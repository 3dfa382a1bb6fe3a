import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto

/// Writes a stream of unknown length into a tar archive as consecutive entries of `partSize` bytes,
/// `<path>.part-0001`, `<path>.part-0002`, …, the last one shorter; each part's SHA-256 is computed as it
/// is written.
///
/// A tar header carries the entry's size before its data, so each part is collected in memory until it
/// is full (or the stream ends) and then written whole. The numbers are zero-padded to four digits, so
/// that a shell glob (`cat db.sql.part-*`) lists the parts in order.
final class StreamPartWriter {
    /// Four digits: more parts would no longer sort by name.
    static let maximumParts = 9999

    /// `base.part-0001` for index 1.
    static func partPath(_ base: String, index: Int) -> String {
        base + ".part-" + String(format: "%04d", index)
    }

    private let tar: TarWriter
    private let archivePath: String
    private let template: ArchiveEntryMetadata
    private let partSize: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var filled = 0
    private(set) var parts: [ChecksumList.Entry] = []
    /// Bytes of the stream so far.
    private(set) var byteCount: Int64 = 0

    /// Parts get `mode` and `mtime`, owner root.
    init(tar: TarWriter, archivePath: String, mode: UInt32, mtime: Int64, partSize: Int) {
        precondition(partSize > 0, "a part must hold at least one byte")
        self.tar = tar
        self.archivePath = archivePath
        self.template = ArchiveEntryMetadata(path: archivePath, type: .file, size: 0, mode: mode, mtime: mtime)
        self.partSize = partSize
        // Pages are touched only as far as the stream fills them.
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: partSize, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Appends bytes of the stream; writes every part that becomes full.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = min(partSize - filled, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + n)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            filled += n
            offset += n
            byteCount += Int64(n)
            if filled == partSize { try writePart() }
        }
    }

    /// Writes the last part; an empty stream still gets one (empty) part, so the glob matches.
    func finish() throws -> [ChecksumList.Entry] {
        if filled > 0 || parts.isEmpty { try writePart() }
        return parts
    }

    private func writePart() throws {
        guard parts.count < Self.maximumParts else {
            throw BackupError(
                .sourceUnreadable,
                "\(archivePath) is longer than \(Self.maximumParts) parts of \(partSize) bytes; a larger part size is needed"
            )
        }
        var entry = template
        entry.path = Self.partPath(archivePath, index: parts.count + 1)
        entry.size = Int64(filled)
        let data = UnsafeRawBufferPointer(rebasing: buffer[0..<filled])
        let hasher = SHA256Hasher()
        hasher.update(data)
        try tar.beginFile(entry)
        try tar.writeData(data)
        try tar.endFile()
        parts.append(
            ChecksumList.Entry(
                path: entry.path, sha256: Hex.encode(hasher.finalize()), size: entry.size, changed: false, attempts: 1))
        filled = 0
    }
}
