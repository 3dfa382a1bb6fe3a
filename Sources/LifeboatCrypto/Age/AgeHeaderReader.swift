import LifeboatCore

/// Reads an age header line by line from a `ByteSource`, keeping every byte it consumed (for the
/// MAC) and handing over what it read past the header (the start of the payload).
final class AgeHeaderReader {
    /// Headers longer than this are refused (a 1 MiB header holds about 10,000 X25519 stanzas).
    static let maximumHeaderSize = 1 << 20

    private let input: any ByteSource
    private var buffer: [UInt8] = []
    private var position = 0
    private var inputEnded = false

    init(_ input: any ByteSource) { self.input = input }

    /// Every byte consumed so far, from the first byte of the file.
    func consumed(upTo end: Int) -> ArraySlice<UInt8> { buffer[0..<end] }

    /// The offset of the next unread byte from the start of the file.
    var offset: Int { position }

    /// Whether nothing at all was read from the input (an empty file).
    var isEmptyInput: Bool { buffer.isEmpty && inputEnded }

    /// The next line without its LF, or nil if the input ends before an LF.
    func line() throws -> ArraySlice<UInt8>? {
        var searchFrom = position
        while true {
            if let lf = buffer[searchFrom...].firstIndex(of: 0x0A) {
                let line = buffer[position..<lf]
                position = lf + 1
                return line
            }
            searchFrom = buffer.count
            if inputEnded { return nil }
            guard buffer.count < Self.maximumHeaderSize else {
                throw AgeError(.headerInvalid, "the age header is longer than \(Self.maximumHeaderSize) bytes")
            }
            try fill()
        }
    }

    /// Reads up to `count` more bytes after the header (fewer only at the end of the input).
    func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
        while buffer.count - position < count && !inputEnded { try fill() }
        let end = min(position + count, buffer.count)
        defer { position = end }
        return buffer[position..<end]
    }

    /// The bytes read from the input past what was consumed, to be decrypted as payload.
    func remainder() -> ArraySlice<UInt8> { buffer[position...] }

    /// Whether the input has reported its end.
    var hasReachedEnd: Bool { inputEnded }

    private func fill() throws {
        let piece = 16 << 10
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: piece))
        let n = try buffer.withUnsafeMutableBytes {
            try input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[start...]))
        }
        buffer.removeLast(piece - n)
        if n == 0 { inputEnded = true }
    }
}
