import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program from an argument vector (no shell) in a process group of its own, reading its
/// standard output and standard error at the same time, and stopping the whole group on a timeout or
/// a cancellation.
///
/// Standard output is either handed to a closure in chunks as it arrives (a database dump streamed
/// into an archive) or captured up to ``standardOutputLimit``; standard error is captured, keeping its
/// last ``standardErrorLimit`` bytes (where tools put their error message). Standard input is
/// `/dev/null` or a file.
///
/// Stopping (timeout, cancellation, or the output closure throwing) sends SIGTERM to the process group,
/// and SIGKILL after ``terminationGrace`` to whatever is left of it, so grandchildren a script started go
/// too. When the program exits by itself, background processes it left in its group are not killed;
/// their hold on the output pipes is given up after ``terminationGrace``.
///
/// The caller's thread does the work: `run` returns when the program has exited and has been reaped.
/// The pipes are close-on-exec in this process and nothing else of it is inherited (every descriptor
/// from 3 up is closed in the child), so a program started concurrently elsewhere cannot hold them open.
public struct ChildProcess: Sendable {
    /// An absolute path, or a bare name looked up in this process's `PATH`.
    public var executable: String
    /// The arguments after the program name (`argv[1...]`).
    public var arguments: [String]
    /// The complete environment of the program; nil passes this process's environment on.
    public var environment: [String: String]?
    /// The folder the program starts in; nil keeps this process's.
    public var workingDirectory: String?
    /// A file read as standard input; nil means `/dev/null`.
    public var standardInput: String?
    /// How long the program may run before its group is stopped; nil for no limit.
    public var timeout: Duration?
    /// How long the group gets between SIGTERM and SIGKILL, and how long the pipes are read after the
    /// program exited while something else still holds them.
    public var terminationGrace: Duration = .seconds(5)
    /// How much standard output is captured when no closure consumes it; the rest is read and dropped.
    public var standardOutputLimit: Int = 1 << 20
    /// How much of the end of standard error is kept.
    public var standardErrorLimit: Int = 64 << 10

    public init(
        _ executable: String, arguments: [String] = [], environment: [String: String]? = nil,
        workingDirectory: String? = nil, timeout: Duration? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
    }

    /// Runs the program and captures its standard output (up to ``standardOutputLimit``).
    ///
    /// Throws ``Failure`` only when the program cannot be started; a program that fails, is killed or
    /// times out is described by the result.
    public func run(cancellation: CancellationFlag? = nil) throws -> Result {
        try execute(cancellation: cancellation, standardOutput: nil)
    }

    /// Runs the program and hands its standard output to `standardOutput` in chunks, in order, on this
    /// thread; nothing of it is kept.
    ///
    /// When `standardOutput` throws, the program's group is stopped and reaped and the error is rethrown.
    public func run(
        cancellation: CancellationFlag? = nil, standardOutput: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Result {
        try withoutActuallyEscaping(standardOutput) { try execute(cancellation: cancellation, standardOutput: $0) }
    }

    /// This process's environment without the variables for which `drop` is true.
    public static func currentEnvironment(dropping drop: (String) -> Bool = { _ in false }) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !drop($0.key) }
    }

    // MARK: Result

    /// How the program ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signalled(let signal): "signal \(signal) (\(ChildProcess.signalName(signal)))"
            }
        }
    }

    /// Why the program was stopped from outside.
    public enum Interruption: Sendable, Equatable, CustomStringConvertible {
        /// It ran longer than the timeout.
        case timedOut(Duration)
        /// The cancellation flag was raised, for this reason.
        case cancelled(String)
        /// The standard output closure threw.
        case outputRejected

        public var description: String {
            switch self {
            case .timedOut(let limit): "timed out after \(limit)"
            case .cancelled(let reason): "cancelled: \(reason)"
            case .outputRejected: "stopped because its output could not be consumed"
            }
        }
    }

    /// What a run gave.
    public struct Result: Sendable {
        /// The program's process id (also its process group id); reaped, so no longer valid.
        public var processID: Int32
        public var termination: Termination
        /// Set when the group was stopped (timeout, cancellation); `termination` then usually is SIGTERM
        /// or SIGKILL, or whatever status the program chose on SIGTERM.
        public var interruption: Interruption?
        /// From the start to the reaping of the program.
        public var duration: Duration
        /// The captured standard output; empty when a closure consumed it.
        public var standardOutput: [UInt8]
        /// True when standard output was longer than ``ChildProcess/standardOutputLimit`` (the rest was dropped).
        public var standardOutputTruncated: Bool
        /// The last ``ChildProcess/standardErrorLimit`` bytes of standard error.
        public var standardError: [UInt8]
        /// True when earlier standard error was dropped.
        public var standardErrorTruncated: Bool

        /// Exited with status 0 and was not stopped.
        public var succeeded: Bool { termination == .exited(0) && interruption == nil }

        /// Standard output as text (invalid UTF-8 replaced).
        public var standardOutputText: String { String(decoding: standardOutput, as: UTF8.self) }
        /// Standard error as text (invalid UTF-8 replaced).
        public var standardErrorText: String { String(decoding: standardError, as: UTF8.self) }
    }

    /// The program could not be started, or its pipes failed.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        /// The `errno` value behind it.
        public var code: Int32

        public var description: String { message }
    }

    // MARK: Running

    private func execute(
        cancellation: CancellationFlag?, standardOutput consume: ((UnsafeRawBufferPointer) throws -> Void)?
    ) throws -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        let (pid, outFD, errFD) = try spawn()
        var pipes = [outFD, errFD]
        defer { for fd in pipes where fd >= 0 { close(fd) } }

        var exitedAt: ContinuousClock.Instant?
        var interruption: Interruption?
        var terminatedAt: ContinuousClock.Instant?
        var killedAt: ContinuousClock.Instant?
        var consumerError: (any Error)?
        var captured: [UInt8] = []
        var capturedTruncated = false
        var errors: [UInt8] = []
        var errorsTruncated = false
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }

        /// SIGTERM to the group, once; safe while the leader is not reaped (its pid, the group id,
        /// cannot be reused before that).
        func stop(_ why: Interruption, now: ContinuousClock.Instant) {
            if interruption == nil { interruption = why }
            if terminatedAt == nil {
                kill(-pid, SIGTERM)
                terminatedAt = now
            }
        }

        while true {
            if exitedAt == nil, Self.hasExited(pid) { exitedAt = clock.now }
            let open = pipes.contains { $0 >= 0 }
            if exitedAt != nil && !open { break }
            let now = clock.now

            if exitedAt == nil {
                if let reason = cancellation?.cancellationReason {
                    stop(.cancelled(reason), now: now)
                } else if let timeout, now - start >= timeout {
                    stop(.timedOut(timeout), now: now)
                }
            }
            if let terminatedAt, killedAt == nil, now - terminatedAt >= terminationGrace {
                // What is left of the group after the grace: the leader, or grandchildren holding the pipes.
                kill(-pid, SIGKILL)
                killedAt = now
            }
            if let exitedAt, now - exitedAt >= terminationGrace, killedAt == nil || now - killedAt! >= .seconds(1) {
                // Something outside our reach (it left the group) still holds the pipes: stop reading.
                for i in pipes.indices where pipes[i] >= 0 {
                    close(pipes[i])
                    pipes[i] = -1
                }
                break
            }

            var fds = pipes.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 50)
            if ready < 0 {
                if errno == EINTR { continue }
                let code = errno
                stop(.outputRejected, now: clock.now)
                consumerError =
                    consumerError
                    ?? Failure(message: "cannot wait for \(executable)'s output: \(Self.text(code))", code: code)
                continue
            }
            if ready == 0 { continue }
            for polled in fds where polled.revents != 0 {
                let index = pipes.firstIndex(of: polled.fd)!
                // Read what is there now (bounded, so the other pipe and the clock are not starved).
                for _ in 0..<16 {
                    let n = read(polled.fd, buffer.baseAddress, buffer.count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        if errno == EAGAIN || errno == EWOULDBLOCK { break }
                        close(polled.fd)
                        pipes[index] = -1
                        break
                    }
                    if n == 0 {
                        close(polled.fd)
                        pipes[index] = -1
                        break
                    }
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                    if index == 1 {
                        errors.append(contentsOf: chunk)
                        if errors.count > 2 * standardErrorLimit {
                            errors.removeFirst(errors.count - standardErrorLimit)
                            errorsTruncated = true
                        }
                    } else if let consume {
                        guard consumerError == nil else { continue }  // stopping: drain and drop
                        do {
                            try consume(chunk)
                        } catch {
                            consumerError = error
                            stop(.outputRejected, now: clock.now)
                        }
                    } else {
                        let room = standardOutputLimit - captured.count
                        if n > room { capturedTruncated = true }
                        if room > 0 { captured.append(contentsOf: chunk.prefix(room)) }
                    }
                    if n < buffer.count { break }
                }
            }
        }

        let termination = Self.reap(pid)
        let duration = clock.now - start
        if let consumerError { throw consumerError }
        if errors.count > standardErrorLimit {
            errors.removeFirst(errors.count - standardErrorLimit)
            errorsTruncated = true
        }
        return Result(
            processID: pid, termination: termination, interruption: interruption, duration: duration,
            standardOutput: captured, standardOutputTruncated: capturedTruncated, standardError: errors,
            standardErrorTruncated: errorsTruncated)
    }

    /// Starts the program in a new process group; returns its pid and the read ends of its stdout and
    /// stderr pipes (non-blocking).
    private func spawn() throws -> (pid: pid_t, stdout: Int32, stderr: Int32) {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard GNU.closeOnExecPipe(&out) else { throw failure("cannot create a pipe for") }
        guard GNU.closeOnExecPipe(&err) else {
            let failure = failure("cannot create a pipe for")
            close(out[0])
            close(out[1])
            throw failure
        }
        var parentEnds = [out[0], err[0]]
        defer {
            close(out[1])
            close(err[1])
            for fd in parentEnds where fd >= 0 { close(fd) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, standardInput ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        _ = GNU.addCloseFrom?(&actions, 3)
        if let workingDirectory {
            guard let addChdir = GNU.addChdir else {
                throw Failure(
                    message: "cannot run \(executable) in \(workingDirectory): this C library cannot", code: ENOSYS)
            }
            _ = addChdir(&actions, workingDirectory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        // Signals this process ignores would stay ignored in the program (SIGPIPE above all).
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGXFSZ, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let envStrings = environment.map { $0.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } }
        defer { for p in envStrings ?? [] { free(p) } }

        var pid: pid_t = 0
        let status: Int32
        if let envStrings {
            let envp = envStrings + [nil]
            status = spawn(&pid, &actions, &attributes, argv, envp)
        } else {
            status = spawn(&pid, &actions, &attributes, argv, environ)
        }
        guard status == 0 else {
            var detail = Self.text(status)
            if let workingDirectory, status == ENOENT, access(workingDirectory, F_OK) != 0 {
                detail = "the working directory \(workingDirectory) does not exist"
            } else if let standardInput, status == ENOENT || status == EACCES, access(standardInput, R_OK) != 0 {
                detail = "cannot read \(standardInput): \(detail)"
            }
            throw Failure(message: "cannot run \(executable): \(detail)", code: status)
        }
        for fd in parentEnds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        // A bigger pipe lets a fast producer (a dump) run ahead of the consumer; best effort.
        _ = fcntl(out[0], GNU.setPipeSize, Int32(1 << 20))
        let ends = (parentEnds[0], parentEnds[1])
        parentEnds = []
        return (pid, ends.0, ends.1)
    }

    private func spawn(
        _ pid: inout pid_t, _ actions: inout posix_spawn_file_actions_t, _ attributes: inout posix_spawnattr_t,
        _ argv: [UnsafeMutablePointer<CChar>?], _ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>!
    ) -> Int32 {
        if executable.contains("/") {
            return posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        return posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
    }

    private func spawn(
        _ pid: inout pid_t, _ actions: inout posix_spawn_file_actions_t, _ attributes: inout posix_spawnattr_t,
        _ argv: [UnsafeMutablePointer<CChar>?], _ envp: [UnsafeMutablePointer<CChar>?]
    ) -> Int32 {
        envp.withUnsafeBufferPointer { spawn(&pid, &actions, &attributes, argv, $0.baseAddress) }
    }

    private func failure(_ what: String) -> Failure {
        let code = errno
        return Failure(message: "\(what) \(executable): \(Self.text(code))", code: code)
    }

    /// True once the program has exited; it stays unreaped (a zombie), so its pid and process group id
    /// cannot be reused while signals may still be sent to the group.
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        while true {
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                return info._sifields._sigchld.si_pid == pid
            }
            if errno == EINTR { continue }
            return true  // ECHILD: someone else reaped it; nothing left to wait for
        }
    }

    /// Waits for the program and turns its wait status into a ``Termination``.
    private static func reap(_ pid: pid_t) -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            return .exited(-1)  // reaped elsewhere: the status is lost
        }
        let signal = status & 0x7F
        if signal == 0 { return .exited((status >> 8) & 0xFF) }
        return .signalled(signal)
    }

    /// `SIGKILL`, `SIGTERM`, …, or the signal's description.
    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGABRT: "SIGABRT",
            SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGPIPE: "SIGPIPE",
            SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGXCPU: "SIGXCPU",
            SIGXFSZ: "SIGXFSZ",
        ]
        return names[signal] ?? strsignal(signal).map { String(cString: $0) } ?? "unknown"
    }

    private static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// glibc functions that Swift's Glibc module does not declare (they need `_GNU_SOURCE`), looked up at run
/// time; all are in glibc since 2.34 (Debian 12 has 2.36).
private enum GNU {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    static let pipe2: Pipe2? = symbol("pipe2")
    /// `posix_spawn_file_actions_addclosefrom_np`: closes every descriptor from N up in the child.
    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    /// `posix_spawn_file_actions_addchdir_np`: changes the child's working directory.
    static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    /// `F_SETPIPE_SZ` (`F_LINUX_SPECIFIC_BASE + 7`).
    static let setPipeSize: Int32 = 1031

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }

    /// A pipe whose two ends are close-on-exec from the start (no window for a concurrent fork).
    static func closeOnExecPipe(_ fds: inout [Int32]) -> Bool {
        if let pipe2 { return fds.withUnsafeMutableBufferPointer { pipe2($0.baseAddress, O_CLOEXEC) } == 0 }
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }
}
