import CArchive
import Glibc
import LifeboatCore

/// Reads a tar stream (pax, GNU or ustar; plain, zstd, gzip, xz or bzip2) from a `ByteSource`.
///
/// `next()` returns nil only after the archive's end-of-archive marker: an archive cut short throws, even when it
/// is cut exactly between two entries. An error thrown by the source is rethrown unchanged. Not thread-safe.
public final class TarReader {
    /// The size of the reads made on the source.
    public static let bufferSize = 64 << 10

    private enum State {
        case header
        case entry(path: String)
        case end
        case failed
    }

    private let archive: OpaquePointer
    private let context: ReadContext
    private var state = State.header

    /// Opens a reader and detects the compression from the first bytes of `input`.
    public init(input: any ByteSource) throws {
        guard let archive = archive_read_new() else {
            throw ArchiveError(code: .io, message: "cannot allocate a libarchive reader")
        }
        self.archive = archive
        self.context = ReadContext(source: input, bufferSize: Self.bufferSize)
        // Only decompressors built into libarchive: "filter_all" would also bid programs such as lrzip and grzip
        // that libarchive runs as external processes.
        archive_read_support_filter_zstd(archive)
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_xz(archive)
        archive_read_support_filter_bzip2(archive)
        archive_read_support_format_tar(archive)
        let result = archive_read_open(
            archive, Unmanaged.passUnretained(context).toOpaque(), nil, ReadCallbacks.read, nil)
        if result != ARCHIVE_OK {
            state = .failed
            throw failure("cannot open the archive")
        }
    }

    deinit {
        archive_read_free(archive)
    }

    /// The next entry's header, or nil at the end-of-archive marker; the rest of the current entry is skipped.
    public func next() throws -> ArchiveEntryMetadata? {
        try UTF8Locale.run { try nextHeader() }
    }

    private func nextHeader() throws -> ArchiveEntryMetadata? {
        switch state {
        case .failed:
            throw ArchiveError(code: .format, message: "an earlier error left the archive unusable")
        case .end:
            return nil
        case .entry(let path):
            if archive_read_data_skip(archive) != ARCHIVE_OK {
                throw failure("cannot skip the data", path: path)
            }
            state = .header
        case .header:
            break
        }
        // libarchive also reports a clean end when the stream stops exactly at a header boundary. Only a consumed
        // end-of-archive block moves the position, so an unmoved position means the archive was cut short.
        let position = archive_filter_bytes(archive, 0)
        var header: OpaquePointer?
        let result = archive_read_next_header(archive, &header)
        switch result {
        case ARCHIVE_OK, ARCHIVE_WARN:
            guard let header else { throw failure("libarchive returned no header") }
            let metadata = Self.metadata(of: header)
            state = .entry(path: metadata.path)
            return metadata
        case ARCHIVE_EOF:
            if archive_filter_bytes(archive, 0) == position {
                state = .failed
                throw ArchiveError(code: .truncated, message: "the archive ends without its end-of-archive marker")
            }
            state = .end
            return nil
        default:
            throw failure("cannot read the next header")
        }
    }

    /// Reads data of the current entry into `buffer`; returns 0 at the entry's end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard case .entry(let path) = state, !buffer.isEmpty else { return 0 }
        let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if count < 0 {
            throw failure("cannot read the data", path: path)
        }
        return count
    }

    /// Skips the rest of the current entry's data.
    public func skip() throws {
        guard case .entry(let path) = state else { return }
        if archive_read_data_skip(archive) != ARCHIVE_OK {
            throw failure("cannot skip the data", path: path)
        }
        state = .header
    }

    // MARK: - Helpers

    private static func metadata(of header: OpaquePointer) -> ArchiveEntryMetadata {
        var path =
            LibArchive.string(archive_entry_pathname_utf8(header))
            ?? LibArchive.string(archive_entry_pathname(header)) ?? ""
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }

        let hardlink =
            LibArchive.string(archive_entry_hardlink_utf8(header))
            ?? LibArchive.string(archive_entry_hardlink(header))
        let type: ArchiveEntryType
        var linkTarget: String?
        if let hardlink {
            type = .hardlink
            linkTarget = hardlink
        } else {
            switch UInt32(archive_entry_filetype(header)) & LibArchive.typeMask {
            case LibArchive.regular: type = .file
            case LibArchive.directory: type = .directory
            case LibArchive.symlink:
                type = .symlink
                linkTarget =
                    LibArchive.string(archive_entry_symlink_utf8(header))
                    ?? LibArchive.string(archive_entry_symlink(header))
            default: type = .other
            }
        }
        return ArchiveEntryMetadata(
            path: path,
            type: type,
            size: archive_entry_size_is_set(header) != 0 ? archive_entry_size(header) : 0,
            mode: UInt32(archive_entry_perm(header)) & 0o7777,
            mtime: Int64(archive_entry_mtime(header)),
            mtimeNanoseconds: Int32(clamping: archive_entry_mtime_nsec(header)),
            uid: UInt32(clamping: archive_entry_uid(header)),
            gid: UInt32(clamping: archive_entry_gid(header)),
            userName: nonEmpty(
                LibArchive.string(archive_entry_uname_utf8(header)) ?? LibArchive.string(archive_entry_uname(header))),
            groupName: nonEmpty(
                LibArchive.string(archive_entry_gname_utf8(header)) ?? LibArchive.string(archive_entry_gname(header))),
            linkTarget: linkTarget)
    }

    private static func nonEmpty(_ name: String?) -> String? {
        name?.isEmpty == false ? name : nil
    }

    /// Marks the reader failed and returns the source's own error if it caused this, else libarchive's.
    private func failure(_ what: String, path: String? = nil) -> any Error {
        state = .failed
        if let sourceError = context.sourceError {
            return sourceError
        }
        return LibArchive.error(archive, what, path: path)
    }
}

/// What the read callback needs; libarchive holds it as an unretained pointer owned by the `TarReader`.
final class ReadContext {
    let source: any ByteSource
    let buffer: UnsafeMutableRawBufferPointer
    /// The first error thrown by the source; the reader rethrows it instead of libarchive's generic one.
    var sourceError: (any Error)?

    init(source: any ByteSource, bufferSize: Int) {
        self.source = source
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit { buffer.deallocate() }
}

enum ReadCallbacks {
    static let read:
        @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeRawPointer?>?) ->
            la_ssize_t = { archive, client, output in
                let context = Unmanaged<ReadContext>.fromOpaque(client!).takeUnretainedValue()
                if context.sourceError != nil { return -1 }
                do {
                    let count = try context.source.read(into: context.buffer)
                    output?.pointee = UnsafeRawPointer(context.buffer.baseAddress)
                    return la_ssize_t(count)
                } catch {
                    context.sourceError = error
                    lifeboat_archive_set_error(archive, EIO, "the input source failed")
                    return -1
                }
            }
}
