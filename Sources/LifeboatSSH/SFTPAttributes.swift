import CSSH

/// What an SFTP server says about a file: from `stat`, or one entry of a directory listing.
public struct SFTPAttributes: Hashable, Sendable {
    public enum FileType: Hashable, Sendable { case regular, directory, symlink, other }

    /// The entry's name in a directory listing; nil for `stat` results.
    public var name: String?
    public var type: FileType
    /// Bytes; 0 when the server did not say.
    public var size: Int64
    /// Seconds since 1970, when the server said.
    public var modified: Int64?
    /// Unix permission bits (the low 12 bits of the mode), when the server said.
    public var permissions: UInt32?

    public init(name: String?, type: FileType, size: Int64, modified: Int64?, permissions: UInt32?) {
        self.name = name
        self.type = type
        self.size = size
        self.modified = modified
        self.permissions = permissions
    }

    /// Copies libssh's attributes (which the caller still frees).
    init(_ attributes: sftp_attributes) {
        let a = attributes.pointee
        name = a.name.map { String(cString: $0) }
        switch Int32(a.type) {
        case SSH_FILEXFER_TYPE_REGULAR: type = .regular
        case SSH_FILEXFER_TYPE_DIRECTORY: type = .directory
        case SSH_FILEXFER_TYPE_SYMLINK: type = .symlink
        default: type = .other
        }
        size = a.flags & UInt32(SSH_FILEXFER_ATTR_SIZE) != 0 ? Int64(clamping: a.size) : 0
        modified = a.flags & UInt32(SSH_FILEXFER_ATTR_ACMODTIME) != 0 ? Int64(a.mtime) : nil
        permissions = a.flags & UInt32(SSH_FILEXFER_ATTR_PERMISSIONS) != 0 ? a.permissions & 0o7777 : nil
    }
}
