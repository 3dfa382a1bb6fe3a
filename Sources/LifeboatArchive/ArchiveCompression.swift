import Foundation

/// The compression filter a `TarWriter` applies to the tar stream.
public struct ArchiveCompression: Sendable, Hashable {
    /// A compression algorithm; `none` writes a plain tar stream.
    public enum Algorithm: String, Sendable {
        case zstd, gzip, xz, none
    }

    public var algorithm: Algorithm
    /// The algorithm's level (zstd 1...19, or up to 22; gzip and xz 0...9); nil uses libarchive's default.
    public var level: Int?
    /// Compression threads for zstd and xz; ignored by gzip and none.
    public var threads: Int

    public init(algorithm: Algorithm = .zstd, level: Int? = nil, threads: Int = ArchiveCompression.defaultThreads) {
        self.algorithm = algorithm
        self.level = level
        self.threads = threads
    }

    /// The number of processors this process may run on.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The conventional file name suffix, including the leading dot.
    public var fileExtension: String {
        switch algorithm {
        case .zstd: ".tar.zst"
        case .gzip: ".tar.gz"
        case .xz: ".tar.xz"
        case .none: ".tar"
        }
    }
}
