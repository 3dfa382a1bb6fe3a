import LifeboatArchive
import LifeboatBackup
import LifeboatCrypto
import LifeboatStores

/// Process exit codes, decided here and nowhere else.
public enum ExitStatus: Int32, Sendable {
    case success = 0
    case failure = 1
    /// Some stores failed, others have the snapshot.
    case partial = 2
    /// The command line or the configuration is wrong.
    case usage = 64
    /// A temporary condition (a lock held, a store unreachable): try again later.
    case temporaryFailure = 75

    /// The status an error ends a command with.
    public static func of(_ error: any Error) -> ExitStatus {
        switch error {
        case is ConfigurationError:
            return .usage
        case let e as BackupError:
            switch e.code {
            case .usage: return .usage
            case .busy: return .temporaryFailure
            default: return .failure
            }
        case let e as StoreError:
            return e.code.isRetryable ? .temporaryFailure : .failure
        case is CommandError:
            return (error as! CommandError).status
        default:
            return .failure
        }
    }
}

/// An error raised by a command itself, with its exit status.
public struct CommandError: Error, Sendable, CustomStringConvertible {
    public var status: ExitStatus
    public var message: String

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }
}
