/// One hook command: an argument vector run without a shell, with a time limit.
///
/// Written in the configuration as a list (`[/usr/sbin/fwconsole, stop]`, default timeout) or as a
/// mapping (`{run: [/usr/sbin/fwconsole, stop], timeout: 2m}`). A shell runs only when the vector
/// names one (`[/bin/sh, -c, "…"]`).
public struct HookCommand: Sendable, Hashable, CustomStringConvertible {
    /// 5 minutes: long enough to stop or start a PBX, short enough that a hung hook does not hold
    /// the job's lock for hours.
    public static let defaultTimeout: Int64 = 300

    /// `run`: the program (an absolute path) and its arguments.
    public var arguments: [String]
    /// `timeout`: seconds before the hook's process group is stopped (SIGTERM, then SIGKILL).
    public var timeout: Int64

    public init(arguments: [String], timeout: Int64 = HookCommand.defaultTimeout) {
        self.arguments = arguments
        self.timeout = timeout
    }

    /// The vector as an operator would type it, for messages and logs.
    public var description: String {
        arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}

/// Where hooks run, named as the configuration keys are.
public struct HookPhase: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Before a backup: its failure stops the backup.
    public static var preBackup: HookPhase { HookPhase(rawValue: "pre_backup") }
    /// After a backup, whatever its result (`LIFEBOAT_RESULT`).
    public static var postBackup: HookPhase { HookPhase(rawValue: "post_backup") }
    /// Before an in-place restore changes anything: its failure stops the restore.
    public static var preRestore: HookPhase { HookPhase(rawValue: "pre_restore") }
    /// After an in-place restore, whatever its result, so that the PBX comes back up.
    public static var postRestore: HookPhase { HookPhase(rawValue: "post_restore") }

    public var description: String { rawValue }
}

/// `pre_restore` / `post_restore` of a job or of a source.
public struct RestoreHooks: Sendable, Hashable {
    public var pre: [HookCommand]
    public var post: [HookCommand]

    public init(pre: [HookCommand] = [], post: [HookCommand] = []) {
        self.pre = pre
        self.post = post
    }

    public var isEmpty: Bool { pre.isEmpty && post.isEmpty }
}
