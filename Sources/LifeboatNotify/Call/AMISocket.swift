import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection that reads lines and writes bytes with deadlines (POSIX sockets and `poll`).
///
/// Blocking: the calling thread waits. ``AMIClient`` owns one and turns its failures into
/// ``DeliveryError``s that name the server.
final class AMISocket {
    enum Failure: Error {
        /// The host name did not resolve (getaddrinfo's message).
        case resolve(String)
        /// `connect` failed with this errno.
        case connect(Int32)
        case connectTimedOut
        /// Nothing arrived (or nothing could be sent) before the deadline.
        case timedOut
        /// The server closed the connection.
        case closed
        /// `recv`/`send`/`poll` failed with this errno.
        case io(Int32)
        /// A line longer than ``AMISocket/maxLine`` bytes.
        case lineTooLong

        /// A sentence for error messages.
        var reason: String {
            switch self {
            case .resolve(let message): "the host name did not resolve (\(message))"
            case .connect(let code): "connect failed: \(AMISocket.describe(code))"
            case .connectTimedOut: "the connection timed out"
            case .timedOut: "the server sent nothing in time"
            case .closed: "the server closed the connection"
            case .io(let code): AMISocket.describe(code)
            case .lineTooLong: "the server sent a line longer than \(AMISocket.maxLine) bytes"
            }
        }
    }

    static let maxLine = 64 << 10
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// Connects to `host:port`, trying each address the name resolves to, within `timeout` seconds
    /// in all.
    static func connect(host: String, port: Int, timeout: Double) throws(Failure) -> AMISocket {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw .resolve(String(cString: gai_strerror(resolved)))
        }
        defer { freeaddrinfo(first) }
        var failure = Failure.connectTimedOut
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            next = info.pointee.ai_next
            do {
                return AMISocket(fd: try connect(info.pointee, deadline: deadline))
            } catch {
                failure = error
                if case .connectTimedOut = error { break }
            }
        }
        throw failure
    }

    private static func connect(_ info: addrinfo, deadline: ContinuousClock.Instant) throws(Failure) -> Int32 {
        let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
        guard fd >= 0 else { throw .connect(errno) }
        var keep = false
        defer { if !keep { _ = Glibc.close(fd) } }
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw .connect(errno) }
            try wait(fd, for: Int16(POLLOUT), until: deadline, timeout: .connectTimedOut)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { throw .connect(errno) }
            guard error == 0 else { throw .connect(error) }
        }
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        keep = true
        return fd
    }

    /// Waits until `fd` is ready for `events`; throws `timeout` at the deadline.
    private static func wait(
        _ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, timeout: Failure
    ) throws(Failure) {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw timeout }
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: max(1, milliseconds)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .io(errno) }
        }
    }

    /// Sends all of `bytes` before `deadline`.
    func send(_ bytes: [UInt8], until deadline: ContinuousClock.Instant) throws(Failure) {
        guard fd >= 0 else { throw .closed }
        var offset = 0
        while offset < bytes.count {
            try Self.wait(fd, for: Int16(POLLOUT), until: deadline, timeout: .timedOut)
            let sent = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if sent > 0 {
                offset += sent
            } else if sent < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK {
                throw errno == EPIPE || errno == ECONNRESET ? .closed : .io(errno)
            }
        }
    }

    /// The next line without its line end, received before `deadline`; `crlf` says whether it ended
    /// with CR LF (the protocol's line end) rather than a bare LF.
    func readLine(until deadline: ContinuousClock.Instant) throws(Failure) -> (text: String, crlf: Bool) {
        guard fd >= 0 else { throw .closed }
        var searched = start
        while true {
            if let newline = buffer[searched...].firstIndex(of: 0x0A) {
                var end = newline
                let crlf = end > start && buffer[end - 1] == 0x0D
                if crlf { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                if start == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                }
                return (line, crlf)
            }
            searched = buffer.count
            guard buffer.count - start <= Self.maxLine else { throw .lineTooLong }
            if start > 0 {
                buffer.removeFirst(start)
                searched -= start
                start = 0
            }
            try Self.wait(fd, for: Int16(POLLIN), until: deadline, timeout: .timedOut)
            var chunk = [UInt8](repeating: 0, count: 4096)
            let received = chunk.withUnsafeMutableBytes { raw in
                recv(fd, raw.baseAddress!, raw.count, Int32(MSG_DONTWAIT))
            }
            if received == 0 { throw .closed }
            if received < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                throw errno == ECONNRESET ? .closed : .io(errno)
            }
            buffer += chunk[0..<received]
        }
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
