import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `lifeboat daemon` as a real process on real minutes: systemd notifications, the API listener,
/// SIGHUP with a broken configuration, `kill -9` in the middle of a run, and SIGTERM with a run
/// that outlives `shutdown_grace`.
@Suite(.serialized) struct DaemonTests {
    /// A Unix datagram socket standing in for systemd's `NOTIFY_SOCKET`.
    final class NotifySocket {
        let path: String
        private let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
                }
            }
            guard fd >= 0, ok else { throw FixtureError(message: "cannot bind \(path)") }
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// The next message, or nil after `seconds`.
        func receive(within seconds: Double) -> String? {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(seconds * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        }

        /// Reads and drops every message queued now (the daemon drops what does not fit in the queue).
        func drain() {
            while receive(within: 0) != nil {}
        }

        /// Waits for a message containing `text`; returns every message seen meanwhile.
        func wait(for text: String, within seconds: Double) -> (found: Bool, seen: [String]) {
            let deadline = Date() + seconds
            var seen: [String] = []
            while Date() < deadline {
                guard let message = receive(within: deadline.timeIntervalSinceNow) else { break }
                seen.append(message)
                if message.contains(text) { return (true, seen) }
            }
            return (false, seen)
        }
    }

    /// Two every-minute jobs: `fast` (a few small files) and `slow` (48 MB of text at zstd level 19 on one
    /// thread, about twenty seconds of work on a 2-core machine), each to its own local store.
    final class Installation {
        let dir = NSTemporaryDirectory() + "lifeboat-daemon-" + UUID().uuidString.prefix(8)
        let port: Int
        var config: String { dir + "/lifeboat.yaml" }
        let token: String
        var goodConfig = ""

        init() throws {
            port = try TestServers.closedPort()
            let fm = FileManager.default
            for sub in ["small", "big", "fast", "slow"] {
                try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            }
            try "[general]\nbindport=5060\n".write(toFile: dir + "/small/sip.conf", atomically: true, encoding: .utf8)
            let big = try Harness.shell("head -c 36000000 /dev/urandom | base64 > '\(dir)/big/recordings.txt'")
            guard big.status == 0 else { throw FixtureError(message: big.output) }
            let keygen = try Harness.lifeboat("keygen", "--output", dir + "/key")
            guard let recipient = keygen.output.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("age1") })
            else { throw FixtureError(message: keygen.output) }
            token = UUID().uuidString
            try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
            chmod(dir + "/token", 0o600)
            goodConfig = """
                host: pbx1
                state_dir: \(dir)/state
                encryption: {recipients: ["\(recipient)"], compression: {algorithm: zstd, level: 19, threads: 1}}
                sources:
                  - {name: small, kind: files, path: \(dir)/small}
                  - {name: big, kind: files, path: \(dir)/big}
                stores:
                  - {name: fast, kind: local, path: \(dir)/fast}
                  - {name: slow, kind: local, path: \(dir)/slow}
                jobs:
                  - {name: fast, schedule: "* * * * *", timezone: UTC, sources: [small], stores: [fast]}
                  - {name: slow, schedule: "* * * * *", timezone: UTC, sources: [big], stores: [slow]}
                api: {listen: "127.0.0.1:\(port)", token: {secret_file: \(dir)/token}}
                shutdown_grace: 3s

                """
            try writeConfig(goodConfig)
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        func writeConfig(_ text: String) throws {
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            chmod(config, 0o600)
        }

        func lifeboat(_ arguments: String...) throws -> Harness.Result {
            try Harness.lifeboat(arguments + ["--config", config])
        }

        func startDaemon(notify: NotifySocket) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = ["daemon", "--config", config]
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = notify.path
            environment["WATCHDOG_USEC"] = "1000000"
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            let log = dir + "/daemon-\(UUID().uuidString.prefix(4)).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: log)
            try process.run()
            return process
        }

        func json(_ result: Harness.Result) throws -> Any {
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        }

        func job(_ name: String) throws -> [String: Any] {
            let result = try lifeboat("status", "--json", "--job", name)
            let object = try json(result) as? [String: Any]
            return try #require((object?["jobs"] as? [[String: Any]])?.first, "\(result.output)")
        }

        func events(_ type: String) throws -> [[String: Any]] {
            try json(try lifeboat("events", "--json", "--type", type)) as? [[String: Any]] ?? []
        }

        /// Final-named archives in a store folder (uploads in progress carry a `.partial` suffix).
        func archives(in store: String) throws -> [String] {
            let files = FileManager.default.enumerator(atPath: dir + "/" + store)?.allObjects as? [String] ?? []
            return files.filter { $0.hasSuffix(".age") }.sorted()
        }

        func snapshots(in store: String) throws -> [[String: Any]] {
            try json(try lifeboat("snapshots", "--json", "--store", store)) as? [[String: Any]] ?? []
        }

        func http(_ path: String, token: String?, post body: String? = nil) throws -> (status: Int, body: String) {
            var arguments = ["-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
            if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
            if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
            let result = try Harness.run("curl", arguments)
            var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let status = Int(lines.popLast() ?? "") ?? 0
            return (status, lines.joined(separator: "\n"))
        }

        /// Polls `condition` every half second for up to `seconds`.
        func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date() + seconds
            while Date() < deadline {
                if try condition() { return true }
                usleep(500_000)
            }
            return try condition()
        }
    }

    @Test func theDaemonRunsOnScheduleSurvivesABrokenReloadAndAKillAndStopsWithinTheGrace() throws {
        let install = try Installation()
        let notify = try NotifySocket(path: install.dir + "/notify.sock")

        // 1. Start: READY, watchdog pings, the API behind its token.
        let daemonA = try install.startDaemon(notify: notify)
        defer { if daemonA.isRunning { kill(daemonA.processIdentifier, SIGKILL) } }
        let ready = notify.wait(for: "READY=1", within: 20)
        #expect(ready.found, "no READY=1 from the daemon: \(ready.seen)")
        #expect(notify.wait(for: "WATCHDOG=1", within: 5).found)
        #expect(try install.http("/metrics", token: nil).status == 401)
        #expect(try install.http("/metrics", token: "wrong-token-wrong-token").status == 401)
        let metrics = try install.http("/metrics", token: install.token)
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("# TYPE lifeboat_job_runs_total counter"))
        #expect(metrics.body.contains("lifeboat_job_next_run_timestamp_seconds{job=\"slow\"}"))

        // 2. SIGHUP with a broken file: refused, the old schedule stays.
        try install.writeConfig(install.goodConfig + "jobs: [\n")
        kill(daemonA.processIdentifier, SIGHUP)
        usleep(1_500_000)
        #expect(daemonA.isRunning)
        try install.writeConfig(install.goodConfig)
        let refused = try install.events("config.refused")
        #expect(refused.count == 1)
        #expect((refused.first?["message"] as? String)?.contains("lifeboat.yaml:") == true)

        // 3. The next minute: fast commits a snapshot; slow is still compressing when it is killed.
        #expect(try install.eventually(75) { try install.job("slow")["running"] is [String: Any] })
        #expect(try install.eventually(20) { try install.snapshots(in: "fast").count == 1 })
        usleep(1_000_000)
        kill(daemonA.processIdentifier, SIGKILL)
        daemonA.waitUntilExit()
        #expect(try install.archives(in: "slow").isEmpty, "a killed upload left a final-named archive")

        // 4. Restart: the killed run is recorded as interrupted, with its alert.
        notify.drain()
        let daemonB = try install.startDaemon(notify: notify)
        defer { if daemonB.isRunning { kill(daemonB.processIdentifier, SIGKILL) } }
        #expect(notify.wait(for: "READY=1", within: 20).found)
        let lastSlow = try #require(try install.job("slow")["last_run"] as? [String: Any])
        #expect(lastSlow["result"] as? String == "interrupted")
        #expect(
            try install.events("backup.failed").contains {
                ($0["attributes"] as? [String: String])?["result"] == "interrupted"
                    && ($0["attributes"] as? [String: String])?["job"] == "slow"
            })
        let scraped = try install.http("/metrics", token: install.token).body
        #expect(scraped.contains("lifeboat_store_last_success_timestamp_seconds{job=\"fast\",store=\"fast\"} 1"))

        // 5. The next minute again; SIGTERM while slow runs: exit 0 soon after the 3 s grace.
        let slowRuns = (try install.job("slow")["last_run"] as? [String: Any])?["id"] as? Int
        #expect(
            try install.eventually(75) {
                let running = try install.job("slow")["running"] as? [String: Any]
                return running != nil && running?["id"] as? Int != slowRuns
            })
        #expect(try install.eventually(20) { try install.snapshots(in: "fast").count == 2 })
        notify.drain()
        let stopAsked = Date()
        kill(daemonB.processIdentifier, SIGTERM)
        daemonB.waitUntilExit()
        let stopTook = Date().timeIntervalSince(stopAsked)
        #expect(daemonB.terminationStatus == 0)
        #expect(stopTook < 3 + 10, "SIGTERM took \(stopTook) s with a 3 s grace")
        #expect(notify.wait(for: "STOPPING=1", within: 1).found)
        let cut = try #require(try install.job("slow")["last_run"] as? [String: Any])
        #expect(cut["result"] as? String == "interrupted")
        #expect((cut["error"] as? String)?.contains("shutdown_grace") == true, "\(cut)")
        #expect(try install.archives(in: "slow").isEmpty)
        let stopped = try install.events("daemon.stopped")
        #expect((stopped.last?["attributes"] as? [String: String])?["interrupted"] == "slow")
        // Every final-named archive of fast has its sidecar: nothing half-committed.
        #expect(try install.archives(in: "fast").count == install.snapshots(in: "fast").count)
    }

    @Test func postedEventsAreRecordedAndBadRequestsAreRefusedWithAReason() throws {
        let install = try Installation()
        try install.writeConfig(install.goodConfig.replacingOccurrences(of: "\"* * * * *\"", with: "\"0 3 1 1 *\""))
        let notify = try NotifySocket(path: install.dir + "/notify.sock")
        let daemon = try install.startDaemon(notify: notify)
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        #expect(notify.wait(for: "READY=1", within: 20).found)

        let good = #"{"type": "pbx.extension_registration_blocked_out", "level": "alert", "attributes": {"extension": "1001", "ip": "198.51.100.7"}, "message": "Extension 1001 blocked"}"#
        #expect(try install.http("/v1/events", token: nil, post: good).status == 401)
        #expect(try install.http("/v1/events", token: "not-the-token-at-all", post: good).status == 401)
        let oversized = #"{"type": "pbx.x", "level": "alert", "message": ""# + String(repeating: "x", count: 70_000) + #""}"#
        let refused: [(String, Int, String)] = [
            (oversized, 413, "larger than 65536 bytes"),
            ("{not json", 400, "not a JSON object"),
            (#"{"type": "pbx.x", "level": "critical"}"#, 400, "level: expected one of information, warning, alert"),
            (#"{"type": "PBX X", "level": "alert"}"#, 400, "type: 'PBX X' is not an event type"),
            (#"{"level": "alert"}"#, 400, "type: missing"),
            (#"{"type": "pbx.x", "level": "alert", "colour": "red"}"#, 400, "colour: unknown field"),
            (#"{"type": "pbx.x", "level": "alert", "attributes": {"ip": 7}}"#, 400, "attributes.ip: expected a string"),
        ]
        for (body, status, reason) in refused {
            let answer = try install.http("/v1/events", token: install.token, post: body)
            #expect(answer.status == status, "\(reason): \(answer)")
            #expect(answer.body.contains(reason), "\(answer.body)")
        }
        #expect(try install.events("pbx.*").isEmpty, "a refused request recorded something")

        let accepted = try install.http("/v1/events", token: install.token, post: good)
        #expect(accepted.status == 202, "\(accepted)")
        let id = try #require(
            (try JSONSerialization.jsonObject(with: Data(accepted.body.utf8)) as? [String: String])?["id"])
        let recorded = try install.events("pbx.*")
        #expect(recorded.count == 1)
        #expect(recorded.first?["id"] as? String == id)
        #expect(recorded.first?["source"] as? String == "api")
        #expect(recorded.first?["attributes"] as? [String: String] == ["extension": "1001", "ip": "198.51.100.7"])
        // A sender's own id makes a retried request idempotent.
        let withID = #"{"id": "pbx-4711", "type": "pbx.cpu_overload", "level": "warning"}"#
        #expect(try install.http("/v1/events", token: install.token, post: withID).status == 202)
        #expect(try install.http("/v1/events", token: install.token, post: withID).status == 202)
        #expect(try install.events("pbx.cpu_overload").count == 1)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }
}
