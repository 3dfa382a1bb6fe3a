import COpenSSL

/// An OpenSSL operation failed; the message keeps the text of OpenSSL's error queue.
///
/// `SHA256Hasher.hash(fileAt:)` also uses it for the I/O errors of reading the file.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    /// What failed, followed by OpenSSL's own messages when it gave any.
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }

    /// An error for a failed OpenSSL call `operation`, draining the thread's error queue.
    static func openSSL(_ operation: String) -> CryptoError {
        let queue = OpenSSLErrorQueue.drain()
        if queue.isEmpty {
            return CryptoError(message: "\(operation) failed (OpenSSL reported no reason)")
        }
        return CryptoError(message: "\(operation) failed: \(queue.joined(separator: "; "))")
    }
}

/// The thread-local error queue of OpenSSL.
enum OpenSSLErrorQueue {
    /// Removes and returns every queued error as OpenSSL's text, oldest first.
    static func drain() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { return messages }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Forgets queued errors of an expected failure (e.g. a tag mismatch that means "not for us").
    static func clear() { ERR_clear_error() }
}
