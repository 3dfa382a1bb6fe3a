import Foundation
import Testing

@testable import LifeboatCore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs real programs (`sh`, `head`, `cat`, `sleep`): the process-group, pipe and signal behaviour is
/// the kernel's, so nothing here is simulated. Serialized: two tests count this process's descriptors
/// and children.
@Suite(.serialized) struct ChildProcessTests {
    func sh(_ script: String, _ extra: String...) -> ChildProcess {
        ChildProcess("/bin/sh", arguments: ["-c", script, "sh"] + extra)
    }

    @Test func exitStatusesAndCapturedOutput() throws {
        let ok = try sh("printf 'hello\\n'; printf 'warn\\n' >&2").run()
        #expect(ok.succeeded)
        #expect(ok.termination == .exited(0))
        #expect(ok.standardOutputText == "hello\n")
        #expect(ok.standardErrorText == "warn\n")
        #expect(!ok.standardOutputTruncated && !ok.standardErrorTruncated)

        let failed = try sh("echo 'mariadb-dump: Got error: 1049' >&2; exit 3").run()
        #expect(!failed.succeeded)
        #expect(failed.termination == .exited(3))
        #expect(failed.termination.description == "exit status 3")
        #expect(failed.standardErrorText == "mariadb-dump: Got error: 1049\n")
        #expect(failed.interruption == nil)
    }

    @Test func aSignalIsReported() throws {
        let result = try sh("kill -KILL $$").run()
        #expect(result.termination == .signalled(SIGKILL))
        #expect(result.termination.description == "signal 9 (SIGKILL)")
        #expect(result.interruption == nil)
        #expect(!result.succeeded)
    }

    @Test func argumentsAreNotInterpretedByAShell() throws {
        let tricky = ["$(touch /tmp/never)", "a b", "'quoted'", "; rm -rf /", ""]
        let result = try ChildProcess("/usr/bin/printf", arguments: ["%s|"] + tricky).run()
        #expect(result.standardOutputText == tricky.map { $0 + "|" }.joined())
        // A bare name is looked up in PATH.
        #expect(try ChildProcess("printf", arguments: ["x"]).run().standardOutputText == "x")
    }

    @Test func environmentWorkingDirectoryAndStandardInput() throws {
        let dir = NSTemporaryDirectory() + "lifeboat-child-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "from a file\n".write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)

        var child = sh("echo \"$GREETING\"; echo \"${HOME:-no home}\"; pwd; cat")
        child.environment = ["GREETING": "hi there", "PATH": "/usr/bin:/bin"]
        child.workingDirectory = dir
        child.standardInput = dir + "/in.txt"
        let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        #expect(try child.run().standardOutputText == "hi there\nno home\n\(real)\nfrom a file\n")

        // Without a file, standard input is /dev/null: `cat` ends at once.
        #expect(try sh("cat; echo done").run().standardOutputText == "done\n")
    }

    @Test func aMissingProgramOrFolderFailsToStart() throws {
        do {
            _ = try ChildProcess("/nonexistent/mariadb-dump").run()
            Issue.record("a missing program was started")
        } catch let failure as ChildProcess.Failure {
            #expect(failure.message == "cannot run /nonexistent/mariadb-dump: No such file or directory")
            #expect(failure.code == ENOENT)
        }
        var child = ChildProcess("/bin/true")
        child.workingDirectory = "/nonexistent-folder"
        #expect(throws: ChildProcess.Failure.self) { try child.run() }
        child = ChildProcess("/bin/true")
        child.standardInput = "/nonexistent-file"
        #expect(throws: ChildProcess.Failure.self) { try child.run() }
    }

    /// A timeout stops the whole process group: the shell and the `sleep` it put in the background.
    @Test func aTimeoutKillsGrandchildrenToo() throws {
        var child = sh("sleep 60 & echo $!; sleep 60")
        child.timeout = .milliseconds(500)
        child.terminationGrace = .seconds(2)
        let result = try child.run()
        #expect(result.interruption == .timedOut(.milliseconds(500)))
        #expect(result.termination == .signalled(SIGTERM))
        #expect(result.duration >= .milliseconds(500) && result.duration < .seconds(2))
        let grandchild = try #require(pid_t(result.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(isGone(grandchild), "the background sleep \(grandchild) still runs")
    }

    /// A group that ignores SIGTERM gets SIGKILL after the grace.
    @Test func sigtermIgnoredMeansSigkillAfterTheGrace() throws {
        var child = sh("trap '' TERM; sleep 60 & echo $!; wait")
        child.timeout = .milliseconds(300)
        child.terminationGrace = .milliseconds(700)
        let result = try child.run()
        #expect(result.interruption == .timedOut(.milliseconds(300)))
        #expect(result.termination == .signalled(SIGKILL))
        #expect(result.duration >= .seconds(1) && result.duration < .seconds(3))
        let grandchild = try #require(pid_t(result.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(isGone(grandchild))
    }

    @Test func cancellationStopsTheGroup() throws {
        let flag = CancellationFlag()
        let canceller = Thread {
            usleep(300_000)
            flag.cancel(reason: "the daemon is shutting down")
        }
        canceller.start()
        let result = try sh("sleep 60 & sleep 60").run(cancellation: flag)
        #expect(result.interruption == .cancelled("the daemon is shutting down"))
        #expect(result.termination == .signalled(SIGTERM))
        #expect(result.duration < .seconds(2))
    }

    /// 50 MB through the streaming closure, compared byte for byte with the file `cat` read, while the
    /// same program writes 1 MB to standard error first: a reader that waited on standard output alone
    /// would deadlock (the stderr pipe fills at 64 KiB).
    @Test func fiftyMegabytesStreamWhileStandardErrorIsBusy() throws {
        let dir = NSTemporaryDirectory() + "lifeboat-child-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/big.bin"
        var generator = SeededGenerator(seed: 42)
        var bytes = [UInt8](repeating: 0, count: 50_000_000)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count { words[i] = generator.next() }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file))

        var offset = 0
        var mismatch: Int?
        var chunks = 0
        let result = try sh("head -c 1000000 /dev/zero | tr '\\0' e >&2; cat \"$1\"", file).run { chunk in
            chunks += 1
            let same =
                offset + chunk.count <= bytes.count
                && bytes.withUnsafeBytes { memcmp($0.baseAddress! + offset, chunk.baseAddress!, chunk.count) == 0 }
            if mismatch == nil, !same { mismatch = offset }
            offset += chunk.count
        }
        #expect(result.succeeded)
        #expect(offset == bytes.count)
        #expect(mismatch == nil, "streamed bytes differ from the file at offset \(mismatch ?? -1)")
        #expect(chunks > 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.count == 64 << 10)
        #expect(result.standardErrorTruncated)
    }

    /// Standard error keeps its end (where tools put the error), bounded.
    @Test func standardErrorKeepsTheLastBytes() throws {
        var child = sh(
            "i=0; while [ $i -lt 20000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo fatal: the end >&2; exit 2")
        child.standardErrorLimit = 4096
        let result = try child.run()
        #expect(result.termination == .exited(2))
        #expect(result.standardError.count == 4096)
        #expect(result.standardErrorTruncated)
        #expect(result.standardErrorText.hasSuffix("line 19999\nfatal: the end\n"))
    }

    @Test func capturedStandardOutputIsBounded() throws {
        var child = ChildProcess("/usr/bin/head", arguments: ["-c", "300000", "/dev/zero"])
        child.standardOutputLimit = 100_000
        let result = try child.run()
        #expect(result.succeeded)
        #expect(result.standardOutput.count == 100_000)
        #expect(result.standardOutputTruncated)
    }

    /// When the consumer of the output fails (an upload broke), the program is stopped and the error
    /// is the consumer's.
    @Test func aThrowingConsumerStopsTheProgram() throws {
        struct UploadBroke: Error {}
        let start = ContinuousClock.now
        var received = 0
        #expect(throws: UploadBroke.self) {
            _ = try ChildProcess("/usr/bin/yes", arguments: ["row"]).run { chunk in
                received += chunk.count
                if received > 1 << 20 { throw UploadBroke() }
            }
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    /// The program sees only descriptors 0, 1 and 2, even when this process has one open without
    /// close-on-exec; and running programs leaves no descriptor and no child (zombie) behind here.
    @Test func noDescriptorOrZombieLeaks() throws {
        let leaky = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        defer { close(leaky) }
        let seen = try sh("ls /proc/$$/fd").run()
        #expect(seen.standardOutputText.split(separator: "\n").sorted() == ["0", "1", "2"])

        // Other suites of this test process open descriptors meanwhile: a leak of two pipes per run
        // would add 200, their noise a few.
        let before = openDescriptors()
        for i in 0..<100 {
            var child = sh(i % 10 == 0 ? "sleep 5" : "echo \(i); exit \(i % 4)")
            child.timeout = .milliseconds(50)
            let result = try child.run()
            #expect(kill(result.processID, 0) == -1 && errno == ESRCH, "process \(result.processID) was not reaped")
        }
        #expect(openDescriptors() - before < 20, "\(before) descriptors before, \(openDescriptors()) after")
    }

    // MARK: Helpers

    /// True when the process no longer runs (absent, or a zombie waiting for its new parent).
    func isGone(_ pid: pid_t) -> Bool {
        for _ in 0..<50 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            if let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return true }
            usleep(20_000)
        }
        return false
    }

    func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}
