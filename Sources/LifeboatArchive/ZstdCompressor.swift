import CZstd
import LifeboatCore

/// Streaming zstd compression through libzstd, with a content checksum in every frame and a bounded
/// multithreaded job size.
///
/// libarchive 3.6.2's zstd filter cannot set either: without a checksum an unencrypted archive does
/// not detect corrupted data, and zstd's default job size (8 MiB at level 3, several in flight per
/// worker) costs tens of MiB of memory. Compression runs on `threads` zstd workers while the calling
/// thread goes on producing input.
final class ZstdCompressor {
    /// Job size of the multithreaded mode: small enough to keep memory bounded, large enough that
    /// splitting the stream costs no measurable ratio.
    static let jobSize = 1 << 20

    private let context: OpaquePointer
    private var output: [UInt8]

    init(level: Int, threads: Int) throws {
        guard let context = ZSTD_createCCtx() else {
            throw ArchiveError(code: .io, message: "cannot allocate a zstd compression context")
        }
        self.context = context
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        try set(ZSTD_c_compressionLevel, Int32(level), "compression level \(level)")
        try set(ZSTD_c_checksumFlag, 1, "content checksum")
        if threads > 1 {
            try set(ZSTD_c_nbWorkers, Int32(threads), "\(threads) threads")
            try set(ZSTD_c_jobSize, Int32(Self.jobSize), "job size")
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input`, handing whatever output is ready to `deliver`.
    func compress(_ input: UnsafeRawBufferPointer, deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while source.pos < source.size {
            try step(&source, ZSTD_e_continue, deliver: deliver)
        }
    }

    /// Ends the frame (flushing every worker) and hands the rest of the output to `deliver`.
    func finish(deliver: (UnsafeRawBufferPointer) throws -> Void) throws {
        var source = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&source, ZSTD_e_end, deliver: deliver) != 0 {}
    }

    /// One call of `ZSTD_compressStream2`; returns what zstd says is left to flush.
    @discardableResult
    private func step(
        _ source: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective,
        deliver: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        try output.withUnsafeMutableBytes { out in
            var sink = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &sink, &source, directive)
            if ZSTD_isError(remaining) != 0 {
                throw ArchiveError(code: .io, message: "zstd compression failed: \(Self.errorName(remaining))")
            }
            if sink.pos > 0 {
                try deliver(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<sink.pos]))
            }
            return remaining
        }
    }

    private func set(_ parameter: ZSTD_cParameter, _ value: Int32, _ what: String) throws {
        let result = ZSTD_CCtx_setParameter(context, parameter, value)
        if ZSTD_isError(result) != 0 {
            throw ArchiveError(code: .format, message: "zstd rejects \(what): \(Self.errorName(result))")
        }
    }

    private static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}
