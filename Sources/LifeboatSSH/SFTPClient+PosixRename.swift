import CSSH

/// `posix-rename@openssh.com`, sent by hand.
///
/// libssh 0.10's `sftp_rename` always sends the plain SFTP v3 `SSH_FXP_RENAME`, which OpenSSH
/// refuses when the target exists, and it has no call for extension requests (0.11 added one).
/// So the request is written on the SFTP channel directly and its status reply read back from it.
/// That is safe because every other request of this client is synchronous: when this runs, no
/// reply is outstanding and libssh has nothing of the channel's data buffered beyond whole packets.
extension SFTPClient {
    private static let fxpExtended: UInt8 = 200
    private static let fxpStatus: UInt8 = 101

    func posixRename(_ source: String, to target: String) throws {
        let what = "cannot rename \(source) to \(target)"
        guard let channel = handle.pointee.channel else { throw failure(what) }
        // The next id libssh would use, taken so that libssh never reuses it.
        handle.pointee.id_counter &+= 1
        let id = handle.pointee.id_counter

        var body: [UInt8] = [Self.fxpExtended]
        Self.append(id, to: &body)
        Self.append(string: "posix-rename@openssh.com", to: &body)
        Self.append(string: source, to: &body)
        Self.append(string: target, to: &body)
        var packet: [UInt8] = []
        Self.append(UInt32(body.count), to: &packet)
        packet += body
        let written = packet.withUnsafeBytes { ssh_channel_write(channel, $0.baseAddress, UInt32($0.count)) }
        guard written == packet.count else { throw failure(what) }

        let length = Self.uint32(try readExactly(4, from: channel, what), at: 0)
        guard length >= 9, length <= 256 << 10 else {
            throw SSHError(.failure, "\(what): the server sent a malformed reply (length \(length))")
        }
        let reply = try readExactly(Int(length), from: channel, what)
        guard reply[0] == Self.fxpStatus, Self.uint32(reply, at: 1) == id else {
            throw SSHError(.failure, "\(what): the server sent an unexpected reply (type \(reply[0]))")
        }
        let status = SFTPStatus(rawValue: Self.uint32(reply, at: 5))
        guard status != .ok else { return }
        var message = ""
        if reply.count >= 13 {
            let textLength = Int(Self.uint32(reply, at: 9))
            if 13 + textLength <= reply.count {
                message = String(decoding: reply[13..<(13 + textLength)], as: UTF8.self)
            }
        }
        let detail = "SFTP server: \(message.isEmpty ? "no message" : message) (\(status))"
        switch status {
        case .noSuchFile, .noSuchPath:
            throw SSHError(.notFound, "\(what): it does not exist (\(detail))", sftpStatus: status)
        case .permissionDenied, .writeProtect:
            throw SSHError(.permissionDenied, "\(what): permission denied (\(detail))", sftpStatus: status)
        default:
            throw SSHError(.failure, "\(what): \(detail)", sftpStatus: status)
        }
    }

    /// Reads exactly `count` bytes from the channel, waiting as long as libssh does for SFTP replies.
    private func readExactly(_ count: Int, from channel: ssh_channel, _ what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes {
                ssh_channel_read(channel, $0.baseAddress! + filled, UInt32(count - filled), 0)
            }
            if n > 0 {
                filled += Int(n)
            } else if n < 0 || ssh_channel_is_eof(channel) != 0 || !session.isConnected {
                throw SSHError(
                    .connection,
                    "\(what): the connection to \(session.configuration.hostAndPort) was lost: \(session.lastError)")
            }
        }
        return bytes
    }

    private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }

    private static func append(string: String, to bytes: inout [UInt8]) {
        let utf8 = Array(string.utf8)
        append(UInt32(utf8.count), to: &bytes)
        bytes += utf8
    }

    private static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
