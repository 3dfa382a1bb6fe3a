/// An install could not be started or continued for a reason of its own (not a failed hook: those
/// end in a record and events, not in an error).
///
/// Errors of the journal and of `FirmwareInstallEffects.record(_:)` are rethrown unchanged, not
/// wrapped in this type.
public struct FirmwareInstallError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decisions are made from the code, not the message.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case inProgress, needsAttention, imageMismatch, cancelled, notFinished
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// An install of another release is under way (its record is past `waitingForWindow` and not
        /// finished); it must finish, through `resume()`, first.
        public static var inProgress: Code { Code(.inProgress) }
        /// A previous install ended `failed`: the PBX needs a person, and no install starts until
        /// ``FirmwareInstaller/acknowledge()`` clears the record.
        public static var needsAttention: Code { Code(.needsAttention) }
        /// The downloaded image's SHA-256 is not the release's.
        public static var imageMismatch: Code { Code(.imageMismatch) }
        /// The cancellation flag was raised; the install stopped at a safe point and the journal
        /// keeps its step, so `resume()` continues it.
        public static var cancelled: Code { Code(.cancelled) }
        /// `acknowledge()` was called while an install is not finished.
        public static var notFinished: Code { Code(.notFinished) }

        public var description: String {
            switch wrapped {
            case .inProgress: "inProgress"
            case .needsAttention: "needsAttention"
            case .imageMismatch: "imageMismatch"
            case .cancelled: "cancelled"
            case .notFinished: "notFinished"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong and what to do, naming the versions and the step.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    init(_ code: Code, _ message: String) {
        self.init(code: code, message: message)
    }

    public var description: String { "firmware install: \(message)" }
}
