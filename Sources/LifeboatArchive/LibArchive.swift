import CArchive
import Glibc

/// Small helpers shared by the reader and the writer at the libarchive boundary.
enum LibArchive {
    /// File type bits as libarchive uses them (`AE_IF*`, the same values as POSIX `S_IF*`).
    static let typeMask: UInt32 = 0o170000
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symlink: UInt32 = 0o120000

    /// The handle's current error as a Swift error, keeping libarchive's message.
    static func error(_ archive: OpaquePointer, _ what: String, path: String? = nil) -> ArchiveError {
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        let code: ArchiveError.Code = detail.lowercased().contains("truncated") ? .truncated : .format
        return ArchiveError(code: code, message: "\(what): \(detail)", path: path)
    }

    /// Decodes a C string that should be UTF-8; invalid sequences become U+FFFD.
    static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
    }
}

/// Runs libarchive's string handling under a UTF-8 `LC_CTYPE`, for this thread only.
///
/// libarchive converts names between UTF-8 and the current locale's charset. In the "C" locale that a service
/// usually runs in, non-ASCII names cannot be converted (libarchive 3.6.2 even crashes writing such a pax
/// pathname). `uselocale` switches the calling thread alone, so the process locale is never changed.
enum UTF8Locale {
    /// Created once and never freed or mutated, so sharing it between threads is safe.
    nonisolated(unsafe) private static let handle: locale_t? =
        newlocale(LC_CTYPE_MASK, "C.UTF-8", nil) ?? newlocale(LC_CTYPE_MASK, "en_US.UTF-8", nil)

    static func run<T>(_ body: () throws -> T) rethrows -> T {
        guard let handle else { return try body() }
        let previous = uselocale(handle)
        defer { uselocale(previous) }
        return try body()
    }
}
