import CArchive
import Glibc
import LifeboatCore

/// Writes a pax tar stream, compressed by libarchive, to a `ByteSink`.
///
/// Entries are streamed: a file's data goes through `beginFile`, `writeData` and `endFile` and is never held
/// whole in memory. Output reaches the sink in blocks of `TarWriter.blockSize` bytes. An error thrown by the sink
/// is rethrown unchanged; after any error the writer refuses further use. Not thread-safe.
public final class TarWriter {
    /// The size of the blocks handed to the sink (libarchive's bytes per block).
    public static let blockSize = 64 << 10

    private enum State {
        case ready
        case inFile(path: String, remaining: Int64)
        case finished
        case failed
    }

    /// Formats entries as a pax tar stream, handed to `WriteCallbacks.tar`.
    private let archive: OpaquePointer
    private let entry: OpaquePointer
    private let context: WriteContext
    private var state = State.ready

    /// Opens a writer; nothing reaches `output` until the first block is full or `finish()` is called.
    public init(output: any ByteSink, compression: ArchiveCompression) throws {
        guard let archive = archive_write_new() else {
            throw ArchiveError(code: .io, message: "cannot allocate a libarchive writer")
        }
        guard let entry = archive_entry_new() else {
            archive_write_free(archive)
            throw ArchiveError(code: .io, message: "cannot allocate a libarchive entry")
        }
        self.archive = archive
        self.entry = entry
        self.context = WriteContext(sink: output)
        do {
            try configure(compression)
        } catch {
            state = .failed
            throw error
        }
    }

    deinit {
        // Without finish() the archive is incomplete: free it without writing anything more to the sink.
        context.detached = true
        archive_write_free(archive)
        if let compressor = context.compressor {
            archive_write_free(compressor)
        }
        archive_entry_free(entry)
    }

    /// Writes a whole entry: a file with `contents`, or a directory, symlink or hard link with no contents.
    public func add(_ entry: ArchiveEntryMetadata, contents: [UInt8]) throws {
        var entry = entry
        if entry.type == .file {
            entry.size = Int64(contents.count)
        } else if !contents.isEmpty {
            throw ArchiveError(code: .format, message: "only files have contents", path: entry.path)
        }
        try beginFile(entry)
        if !contents.isEmpty {
            try contents.withUnsafeBytes { try writeData($0) }
        }
        try endFile()
    }

    /// Writes an entry's header; a file's data of `entry.size` bytes follows through `writeData`.
    ///
    /// Other entry types are accepted too and carry no data.
    public func beginFile(_ entry: ArchiveEntryMetadata) throws {
        guard case .ready = state else { throw misuse("beginFile", entry.path) }
        let result = try UTF8Locale.run {
            try fill(self.entry, from: entry)
            return archive_write_header(archive, self.entry)
        }
        if result == ARCHIVE_FATAL || result == ARCHIVE_FAILED {
            throw failure("cannot write the header", path: entry.path)
        }
        state = .inFile(path: entry.path, remaining: entry.type == .file ? entry.size : 0)
    }

    /// Writes data of the current file; refuses more bytes than its header declared.
    public func writeData(_ bytes: UnsafeRawBufferPointer) throws {
        guard case .inFile(let path, let remaining) = state else { throw misuse("writeData", nil) }
        if bytes.isEmpty { return }
        guard Int64(bytes.count) <= remaining else {
            // Nothing was written: the archive stays consistent and the caller may still endFile().
            throw ArchiveError(
                code: .format,
                message: "\(bytes.count) bytes exceed the \(remaining) bytes left of the declared size", path: path)
        }
        var offset = 0
        while offset < bytes.count {
            let written = archive_write_data(archive, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 {
                throw failure("cannot write file data", path: path)
            }
            offset += written
        }
        state = .inFile(path: path, remaining: remaining - Int64(bytes.count))
    }

    /// Ends the current entry; a file shorter than declared is padded with zero bytes.
    public func endFile() throws {
        guard case .inFile(let path, _) = state else { throw misuse("endFile", nil) }
        let result = archive_write_finish_entry(archive)
        if result == ARCHIVE_FATAL || result == ARCHIVE_FAILED {
            throw failure("cannot finish the entry", path: path)
        }
        state = .ready
    }

    /// Writes the end-of-archive marker and flushes the compressor; the sink is not touched afterwards.
    public func finish() throws {
        guard case .ready = state else { throw misuse("finish", nil) }
        if archive_write_close(archive) != ARCHIVE_OK {
            throw failure("cannot finish the archive")
        }
        if let compressor = context.compressor {
            if archive_write_close(compressor) != ARCHIVE_OK {
                if context.error == nil {
                    context.error = LibArchive.error(compressor, "cannot finish the compressed stream")
                }
                throw failure("cannot finish the compressed stream")
            }
        }
        if let zstd = context.zstd {
            do {
                try zstd.finish { bytes in
                    if !context.deliver(bytes, from: nil) { throw context.error! }
                }
            } catch {
                state = .failed
                throw context.error ?? error
            }
        }
        state = .finished
    }

    // MARK: - Setup

    /// Sets up the pipeline: pax formatter → compressor → sink. zstd goes through libzstd directly
    /// (`ZstdCompressor`: content checksum, bounded job size); gzip and xz through a second libarchive
    /// writer with libarchive's filter.
    private func configure(_ compression: ArchiveCompression) throws {
        // Full pax rather than "restricted": restricted pax drops mtime nanoseconds unless another field already
        // needs an extended header. Entries that fit ustar still get a plain ustar header.
        try check(archive_write_set_format_pax(archive), "cannot select the pax format")
        try check(archive_write_set_bytes_per_block(archive, Int32(Self.blockSize)), "cannot set the block size")
        // A plain tar is padded to whole 10 KiB records as GNU tar does; a compressed one is not padded.
        let plain = compression.algorithm == .none
        try check(archive_write_set_bytes_in_last_block(archive, plain ? 10240 : 1), "cannot set the last block")
        if compression.algorithm == .zstd {
            context.zstd = try ZstdCompressor(level: compression.level ?? 3, threads: max(1, compression.threads))
        } else if !plain {
            try openCompressor(compression)
        }
        let result = archive_write_open2(
            archive, Unmanaged.passUnretained(context).toOpaque(), nil, WriteCallbacks.tar, nil, nil)
        if result != ARCHIVE_OK {
            throw failure("cannot open the tar writer")
        }
    }

    private func openCompressor(_ compression: ArchiveCompression) throws {
        guard let compressor = archive_write_new() else {
            throw ArchiveError(code: .io, message: "cannot allocate a libarchive writer")
        }
        context.compressor = compressor
        func check(_ result: Int32, _ what: String) throws {
            if result != ARCHIVE_OK { throw LibArchive.error(compressor, what) }
        }
        func setOption(_ filter: String, _ key: String, _ value: String) throws {
            if archive_write_set_filter_option(compressor, filter, key, value) != ARCHIVE_OK {
                throw ArchiveError(code: .format, message: "\(filter) rejects \(key)=\(value)")
            }
        }
        try check(archive_write_set_format_raw(compressor), "cannot select the raw format")
        let filter: String
        switch compression.algorithm {
        case .gzip:
            try check(archive_write_add_filter_gzip(compressor), "cannot add the gzip filter")
            filter = "gzip"
        case .xz:
            try check(archive_write_add_filter_xz(compressor), "cannot add the xz filter")
            filter = "xz"
        case .none, .zstd:
            return
        }
        try check(archive_write_set_bytes_per_block(compressor, Int32(Self.blockSize)), "cannot set the block size")
        try check(archive_write_set_bytes_in_last_block(compressor, 1), "cannot set the last block")
        if let level = compression.level {
            try setOption(filter, "compression-level", "\(level)")
        }
        if compression.algorithm == .xz {
            try setOption(filter, "threads", "\(max(1, compression.threads))")
        }
        try check(
            archive_write_open2(
                compressor, Unmanaged.passUnretained(context).toOpaque(), nil, WriteCallbacks.compressed, nil, nil),
            "cannot open the compressor")
        // The raw format carries exactly one entry: the whole tar stream.
        let stream = archive_entry_new()
        defer { archive_entry_free(stream) }
        archive_entry_set_filetype(stream, LibArchive.regular)
        try check(archive_write_header(compressor, stream), "cannot start the compressed stream")
    }

    // MARK: - Helpers

    private func fill(_ target: OpaquePointer, from entry: ArchiveEntryMetadata) throws {
        guard !entry.path.isEmpty, !entry.path.utf8.contains(0) else {
            throw ArchiveError(
                code: .format, message: "an entry path must be non-empty and free of NUL", path: entry.path)
        }
        archive_entry_clear(target)
        archive_entry_set_pathname_utf8(target, entry.path)
        archive_entry_set_perm(target, entry.mode & 0o7777)
        archive_entry_set_mtime(target, time_t(entry.mtime), Int(entry.mtimeNanoseconds))
        archive_entry_set_uid(target, Int64(entry.uid))
        archive_entry_set_gid(target, Int64(entry.gid))
        if let userName = entry.userName { archive_entry_set_uname_utf8(target, userName) }
        if let groupName = entry.groupName { archive_entry_set_gname_utf8(target, groupName) }
        switch entry.type {
        case .file:
            guard entry.size >= 0 else {
                throw ArchiveError(code: .format, message: "negative size \(entry.size)", path: entry.path)
            }
            archive_entry_set_filetype(target, LibArchive.regular)
            archive_entry_set_size(target, entry.size)
        case .directory:
            archive_entry_set_filetype(target, LibArchive.directory)
            archive_entry_set_size(target, 0)
        case .symlink:
            guard let linkTarget = entry.linkTarget, !linkTarget.isEmpty else {
                throw ArchiveError(code: .format, message: "a symlink needs a target", path: entry.path)
            }
            archive_entry_set_filetype(target, LibArchive.symlink)
            archive_entry_set_symlink_utf8(target, linkTarget)
            archive_entry_set_size(target, 0)
        case .hardlink:
            guard let linkTarget = entry.linkTarget, !linkTarget.isEmpty else {
                throw ArchiveError(code: .format, message: "a hard link needs a target", path: entry.path)
            }
            archive_entry_set_filetype(target, LibArchive.regular)
            archive_entry_set_hardlink_utf8(target, linkTarget)
            archive_entry_set_size(target, 0)
        case .other:
            throw ArchiveError(
                code: .unsupportedEntry, message: "cannot archive an entry of type other", path: entry.path)
        }
    }

    private func check(_ result: Int32, _ what: String) throws {
        if result != ARCHIVE_OK { throw failure(what) }
    }

    /// Marks the writer failed and returns the sink's (or compressor's) error if it caused this, else libarchive's.
    private func failure(_ what: String, path: String? = nil) -> any Error {
        state = .failed
        if let error = context.error {
            return error
        }
        return LibArchive.error(archive, what, path: path)
    }

    private func misuse(_ call: String, _ path: String?) -> ArchiveError {
        let detail: String
        switch state {
        case .ready: detail = "no file is open"
        case .inFile: detail = "a file is still open"
        case .finished: detail = "the archive is finished"
        case .failed: detail = "an earlier error left the archive unusable"
        }
        return ArchiveError(code: .format, message: "\(call) called but \(detail)", path: path)
    }
}

/// What the write callbacks need; libarchive holds it as an unretained pointer owned by the `TarWriter`.
final class WriteContext {
    let sink: any ByteSink
    /// The libarchive writer that compresses the tar stream; nil for an uncompressed archive.
    var compressor: OpaquePointer?
    /// The zstd compressor; nil for other compressions.
    var zstd: ZstdCompressor?
    /// Bytes delivered to the sink so far.
    var delivered: Int64 = 0
    /// The first error thrown by the sink or raised by the compressor; the writer rethrows it.
    var error: (any Error)?
    /// Set while freeing an unfinished writer: output is dropped so the sink sees nothing more.
    var detached = false

    init(sink: any ByteSink) { self.sink = sink }

    /// Hands bytes to the sink; on failure records the error on `archive` and returns false.
    func deliver(_ bytes: UnsafeRawBufferPointer, from archive: OpaquePointer?) -> Bool {
        if detached { return true }
        if error != nil { return false }
        do {
            try sink.write(bytes)
            delivered += Int64(bytes.count)
            return true
        } catch {
            self.error = error
            if let archive { lifeboat_archive_set_error(archive, EIO, "the output sink failed") }
            return false
        }
    }
}

enum WriteCallbacks {
    /// Receives the uncompressed tar stream from the formatter.
    static let tar: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> la_ssize_t = {
        archive, client, buffer, length in
        let context = Unmanaged<WriteContext>.fromOpaque(client!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
        if context.detached { return la_ssize_t(length) }
        if let zstd = context.zstd {
            guard context.error == nil else { return -1 }
            do {
                try zstd.compress(bytes) { output in
                    if !context.deliver(output, from: archive) { throw context.error! }
                }
                return la_ssize_t(length)
            } catch {
                if context.error == nil { context.error = error }
                lifeboat_archive_set_error(archive, EIO, "compression failed")
                return -1
            }
        }
        guard let compressor = context.compressor else {
            return context.deliver(bytes, from: archive) ? la_ssize_t(length) : -1
        }
        if context.error == nil {
            if archive_write_data(compressor, buffer, length) == length {
                return la_ssize_t(length)
            }
            if context.error == nil {
                context.error = LibArchive.error(compressor, "compression failed")
            }
        }
        lifeboat_archive_set_error(archive, EIO, "compression failed")
        return -1
    }

    /// Receives compressed bytes from the compressor.
    static let compressed:
        @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> la_ssize_t = {
            archive, client, buffer, length in
            let context = Unmanaged<WriteContext>.fromOpaque(client!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
            return context.deliver(bytes, from: archive) ? la_ssize_t(length) : -1
        }
}
