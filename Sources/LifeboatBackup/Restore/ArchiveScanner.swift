import Foundation
import LifeboatArchive
import LifeboatCore
import LifeboatCrypto

/// Reads a Lifeboat archive front to back and checks it: the age header and every chunk's tag (when
/// encrypted), the tar structure, the manifest first, every path, and every file's SHA-256 against the
/// trailing checksum list. What happens to each file is up to the caller (extract, hash only, skip).
final class ArchiveScanner {
    /// What to do with one component file.
    enum Disposition {
        case skip
        case hash
        case extract(SafeExtractor)
    }

    private let cipherText: HashingSource
    private let plainText: ReadAheadSource
    private let reader: TarReader
    private(set) var manifest: Manifest
    private(set) var checksums: ChecksumList?
    /// SHA-256 of the last copy of each file that was hashed or extracted.
    private(set) var digests: [String: String] = [:]
    private(set) var metadataFiles: [String: [UInt8]] = [:]
    private let progress: (any ProgressObserver)?
    private let expectedSize: Int64?

    /// Opens the stream, decrypting when it starts with the age header, and reads the manifest.
    /// `expectEncrypted` comes from the sidecar when there is one.
    init(
        input: any ByteSource, identities: [AgeIdentity], progress: (any ProgressObserver)?, expectedSize: Int64?,
        expectEncrypted: Bool? = nil
    ) throws {
        let peek = PeekableSource(input)
        let magic = Array("age-encryption.org/v1\n".utf8)
        let head = try peek.peek(magic.count)
        guard !head.isEmpty else { throw BackupError(.invalidArchive, "the archive is empty (0 bytes)") }
        cipherText = HashingSource(peek)
        let plain: any ByteSource
        if head == magic {
            guard !identities.isEmpty else {
                throw BackupError(.usage, "the archive is encrypted and no identity was given (identity_file or --identity)")
            }
            do {
                plain = try AgeDecryptingSource(input: cipherText, identities: identities)
            } catch let error as AgeError where error.code == .noMatchingIdentity {
                throw BackupError(
                    .integrity,
                    "\(error.message): the key is not one of the archive's recipients, or the archive's header is damaged")
            }
        } else if expectEncrypted == true || head.starts(with: Array("age-".utf8)) {
            throw BackupError(
                .integrity, "the archive does not start with the age header its sidecar promises: it is damaged")
        } else {
            plain = cipherText
        }
        self.progress = progress
        self.expectedSize = expectedSize
        // Reading, hashing and decrypting run ahead on their own thread.
        plainText = ReadAheadSource(plain)
        do {
            reader = try TarReader(input: plainText)
        } catch let error as ArchiveError where head != magic {
            throw BackupError(
                .invalidArchive,
                "the file is neither age-encrypted nor a readable tar archive: it is damaged or not a Lifeboat archive (\(error))")
        }
        guard let first = try reader.next() else {
            throw BackupError(.invalidArchive, "the archive is empty: no manifest")
        }
        guard first.path == Manifest.entryPath, first.type == .file else {
            throw BackupError(
                .invalidArchive,
                "not a Lifeboat archive: the first entry is '\(first.path)', not \(Manifest.entryPath)")
        }
        let bytes = try Self.readSmall(reader, limit: 256 << 20, what: Manifest.entryPath)
        metadataFiles[Manifest.entryPath] = bytes
        do {
            manifest = try LifeboatJSON.decode(Manifest.self, from: bytes)
        } catch {
            throw BackupError(.invalidArchive, "the manifest cannot be read: \(error)")
        }
        guard manifest.format <= Manifest.currentFormat else {
            throw BackupError(
                .invalidArchive,
                "the archive has format \(manifest.format); this Lifeboat reads up to \(Manifest.currentFormat)")
        }
    }

    /// The SHA-256 of the stored bytes read so far (all of them once `scan` returned).
    var cipherTextDigest: String { Hex.encode(cipherText.finalize()) }
    var cipherTextCount: Int64 { cipherText.byteCount }

    /// Reads every remaining entry; `decide` chooses per component file. Throws on the first problem.
    func scan(decide: (ArchiveEntryMetadata, _ component: String) -> Disposition) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        let components = Set(manifest.components.map(\.name))
        while let entry = try reader.next() {
            try SafeExtractor.validate(path: entry.path)
            if entry.path.hasPrefix("lifeboat/") {
                guard entry.type == .file else {
                    throw BackupError(.invalidArchive, "unexpected \(entry.type.rawValue) '\(entry.path)' in lifeboat/")
                }
                metadataFiles[entry.path] = try Self.readSmall(reader, limit: 256 << 20, what: entry.path)
                continue
            }
            let parts = entry.path.split(separator: "/", maxSplits: 2)
            guard parts.count >= 2, parts[0] == "components", components.contains(String(parts[1])) else {
                throw BackupError(
                    .invalidArchive, "unexpected entry '\(entry.path)': not under a component of the manifest")
            }
            let component = String(parts[1])
            switch decide(entry, component) {
            case .skip:
                try reader.skip()
            case .hash:
                if entry.type == .file {
                    let hasher = SHA256Hasher()
                    while true {
                        let n = try reader.read(into: buffer)
                        if n == 0 { break }
                        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                        reportProgress()
                    }
                    digests[entry.path] = Hex.encode(hasher.finalize())
                } else {
                    try reader.skip()
                }
            case .extract(let extractor):
                let hasher = entry.type == .file ? SHA256Hasher() : nil
                try extractor.extract(
                    entry,
                    data: { [reader] buf in try reader.read(into: buf) },
                    observe: { chunk in hasher?.update(chunk) })
                if let hasher { digests[entry.path] = Hex.encode(hasher.finalize()) }
                reportProgress()
            }
        }
        // The tar end marker was read; read what libarchive left (record padding) so that the age
        // stream's final chunk is reached and checked: an archive cut short must not pass.
        while try plainText.read(into: buffer) > 0 {}
        guard let bytes = metadataFiles[ChecksumList.entryPath] else {
            throw BackupError(
                .invalidArchive, "the archive ends without \(ChecksumList.entryPath): it is truncated or incomplete")
        }
        do {
            checksums = try LifeboatJSON.decode(ChecksumList.self, from: bytes)
        } catch {
            throw BackupError(.invalidArchive, "\(ChecksumList.entryPath) cannot be read: \(error)")
        }
        guard checksums?.snapshot == manifest.snapshot else {
            throw BackupError(.invalidArchive, "the checksum list belongs to another snapshot")
        }
    }

    /// Compares what was read with the checksum list, for the given components.
    func checkDigests(components: Set<String>) throws {
        guard let checksums else { return }
        var bad: [String] = []
        for file in checksums.files {
            let parts = file.path.split(separator: "/", maxSplits: 2)
            guard parts.count >= 2, components.contains(String(parts[1])) else { continue }
            guard let seen = digests[file.path] else {
                bad.append("\(file.path): missing from the archive")
                continue
            }
            if seen != file.sha256 { bad.append("\(file.path): SHA-256 \(seen) where \(file.sha256) was recorded") }
        }
        let recorded = Set(checksums.files.map(\.path))
        for path in digests.keys where !recorded.contains(path) {
            bad.append("\(path): not in the checksum list")
        }
        guard bad.isEmpty else {
            throw BackupError(
                .integrity, "\(bad.count) file(s) do not match the archive's checksums: " + bad.sorted().prefix(5).joined(separator: "; "))
        }
    }

    private var lastReport: Int64 = 0
    private func reportProgress() {
        // The decrypted stream, counted on this thread: within 0.03 % of the stored bytes.
        let done = plainText.consumed
        if done - lastReport >= 1 << 20 {
            lastReport = done
            progress?.progress(done: done, total: expectedSize)
        }
    }

    private static func readSmall(_ reader: TarReader, limit: Int, what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw BackupError(.invalidArchive, "\(what) is larger than \(limit) bytes") }
        }
    }
}

/// A source that can look at its first bytes without consuming them.
final class PeekableSource: ByteSource {
    private let input: any ByteSource
    private var pending: [UInt8] = []

    init(_ input: any ByteSource) { self.input = input }

    func peek(_ count: Int) throws -> [UInt8] {
        while pending.count < count {
            var chunk = [UInt8](repeating: 0, count: count - pending.count)
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            pending += chunk[0..<n]
        }
        return Array(pending.prefix(count))
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !pending.isEmpty {
            let n = min(buffer.count, pending.count)
            pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            pending.removeFirst(n)
            return n
        }
        return try input.read(into: buffer)
    }
}
