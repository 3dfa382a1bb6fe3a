/// An SFTP status code (`SSH_FX_*`, draft-ietf-secsh-filexfer-02 section 7), as the server or
/// libssh reported it.
public struct SFTPStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ok = SFTPStatus(rawValue: 0)
    public static let eof = SFTPStatus(rawValue: 1)
    public static let noSuchFile = SFTPStatus(rawValue: 2)
    public static let permissionDenied = SFTPStatus(rawValue: 3)
    public static let failure = SFTPStatus(rawValue: 4)
    public static let badMessage = SFTPStatus(rawValue: 5)
    public static let noConnection = SFTPStatus(rawValue: 6)
    public static let connectionLost = SFTPStatus(rawValue: 7)
    public static let operationUnsupported = SFTPStatus(rawValue: 8)
    public static let invalidHandle = SFTPStatus(rawValue: 9)
    public static let noSuchPath = SFTPStatus(rawValue: 10)
    public static let fileAlreadyExists = SFTPStatus(rawValue: 11)
    public static let writeProtect = SFTPStatus(rawValue: 12)
    public static let noMedia = SFTPStatus(rawValue: 13)

    /// The protocol's name, e.g. `SSH_FX_NO_SUCH_FILE`.
    public var description: String {
        let names = [
            "SSH_FX_OK", "SSH_FX_EOF", "SSH_FX_NO_SUCH_FILE", "SSH_FX_PERMISSION_DENIED", "SSH_FX_FAILURE",
            "SSH_FX_BAD_MESSAGE", "SSH_FX_NO_CONNECTION", "SSH_FX_CONNECTION_LOST", "SSH_FX_OP_UNSUPPORTED",
            "SSH_FX_INVALID_HANDLE", "SSH_FX_NO_SUCH_PATH", "SSH_FX_FILE_ALREADY_EXISTS", "SSH_FX_WRITE_PROTECT",
            "SSH_FX_NO_MEDIA",
        ]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "SSH_FX_\(rawValue)"
    }
}
