import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The relay end to end: the real daemon, events from the HTTP API and `lifeboat notify`, email
/// through a real SMTP server (aiosmtpd with STARTTLS and AUTH) of the test's own.
@Suite(.serialized) struct RelayTests {
    final class Installation {
        let dir = NSTemporaryDirectory() + "lifeboat-relay-" + UUID().uuidString.prefix(8)
        let port: Int
        let token = UUID().uuidString
        let smtp: SMTPTestServer
        var config: String { dir + "/lifeboat.yaml" }
        private var daemonLog = ""

        init(groupWait: String, repeatInterval: String, contact: String? = nil, smtpPasswordFile: String? = nil) throws {
            let servers = try TestServers.load()
            smtp = try SMTPTestServer(servers: servers, mode: "starttls")
            port = try TestServers.closedPort()
            try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
            try "x".write(toFile: dir + "/data/x.conf", atomically: true, encoding: .utf8)
            try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
            chmod(dir + "/token", 0o600)
            let config = """
                host: pbx1
                state_dir: \(dir)/state
                encryption: none
                sources: [{name: data, kind: files, path: \(dir)/data}]
                stores: [{name: local, kind: local, path: \(dir)/store}]
                jobs: [{name: nightly, schedule: "0 3 1 1 *", timezone: UTC, sources: [data], stores: [local]}]
                api: {listen: "127.0.0.1:\(port)", token: {secret_file: \(dir)/token}}
                notifications:
                  smtp:
                    host: 127.0.0.1
                    port: \(smtp.port)
                    security: starttls
                    username: \(try servers["SMTP_USERNAME"])
                    password: {secret_file: \(try smtpPasswordFile ?? servers["SMTP_PASSWORD_FILE"])}
                    from: "PBX pbx1 <pbx1@example.com>"
                    ca_file: \(try servers["SMTP_CA_FILE"])
                    timeout: 5s
                  group_wait: \(groupWait)
                  repeat_interval: \(repeatInterval)
                  contacts:
                    - \(contact ?? "{name: ops, levels: [warning, alert], events: [\"*\"], methods: [email], email: ops@example.com}")

                """
            try config.write(toFile: self.config, atomically: true, encoding: .utf8)
            chmod(self.config, 0o600)
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        func lifeboat(_ arguments: String...) throws -> Harness.Result {
            try Harness.lifeboat(arguments + ["--config", config])
        }

        func startDaemon() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = ["daemon", "--config", config]
            process.standardOutput = FileHandle.nullDevice
            daemonLog = dir + "/daemon-\(UUID().uuidString.prefix(4)).log"
            _ = FileManager.default.createFile(atPath: daemonLog, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: daemonLog)
            try process.run()
            // Ready when the API answers.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let probe = try Harness.run(
                    "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/metrics"])
                if probe.stdout == "401" { return process }
                usleep(100_000)
            }
            throw FixtureError(message: "the daemon did not start: \(log)")
        }

        var log: String { (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? "" }

        /// Every stored message's text, with quoted-printable soft line breaks undone.
        func messages() throws -> [String] {
            try smtp.storedMessages().map { name in
                let text = try String(contentsOfFile: smtp.mailbox + "/" + name, encoding: .utf8)
                return text.replacingOccurrences(of: "=\r\n", with: "")
            }
        }

        func outbox(_ arguments: String...) throws -> [[String: Any]] {
            let result = try Harness.lifeboat(["notifications", "--json", "--config", config] + arguments)
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
        }

        func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = Date() + seconds
            while Date() < deadline {
                if try condition() { return true }
                usleep(250_000)
            }
            return try condition()
        }
    }

    /// Posts `count` events to the API over one keep-alive connection, spread over `seconds`.
    func postStorm(port: Int, token: String, count: Int, seconds: Double) throws -> [String] {
        let script = """
            import http.client, json, sys, time
            conn = http.client.HTTPConnection("127.0.0.1", \(port))
            ids = []
            start = time.time()
            for i in range(\(count)):
                body = json.dumps({"type": "pbx.extension_registration_blocked_out", "level": "alert",
                                   "attributes": {"extension": str(2000 + i), "ip": "198.51.100.%d" % (i % 250)}})
                conn.request("POST", "/v1/events", body, {"Authorization": "Bearer \(token)", "Content-Type": "application/json"})
                answer = conn.getresponse()
                data = answer.read()
                if answer.status != 202:
                    sys.exit("answer %d: %s" % (answer.status, data))
                ids.append(json.loads(data)["id"])
                pause = start + (i + 1) * \(seconds) / \(count) - time.time()
                if pause > 0:
                    time.sleep(pause)
            print("\\n".join(ids))
            """
        let python = try TestServers.load()["TEST_PYTHON"]
        let result = try Harness.run(python, ["-c", script])
        guard result.status == 0 else { throw FixtureError(message: "posting failed: \(result.output)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test func aStormOfAThousandEventsBecomesAHandfulOfDigestsNamingThemAll() throws {
        let install = try Installation(groupWait: "5s", repeatInterval: "10s")
        let daemon = try install.startDaemon()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        let ids = try postStorm(port: install.port, token: install.token, count: 1000, seconds: 10)
        #expect(ids.count == 1000)
        let allNamed = try install.eventually(60) {
            let text = try install.messages().joined()
            return ids.allSatisfy { text.contains($0) }
        }
        let messages = try install.messages()
        #expect(allNamed, "\(messages.count) emails; daemon log: \(install.log.suffix(2000))")
        #expect(messages.count >= 1 && messages.count <= 4, "\(messages.count) emails for 1000 events")
        for message in messages {
            #expect(message.contains("Subject: [alert] pbx1: "))
            #expect(message.contains("pbx.extension_registration_blocked_out"))
            #expect(message.contains("Message-ID: <ntf_"))
        }
        // Every event named exactly once across the digests.
        let named = messages.map { text in ids.filter { text.contains($0) }.count }.reduce(0, +)
        #expect(named == 1000)
        let delivered = try install.outbox().filter { $0["state"] as? String == "delivered" }
        #expect(delivered.count == messages.count)
        let metrics = try Harness.run(
            "curl", ["-s", "-H", "Authorization: Bearer \(install.token)", "http://127.0.0.1:\(install.port)/metrics"])
        #expect(metrics.stdout.contains("lifeboat_notifications{state=\"pending\"} 0"), "\(metrics.stdout)")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
    }

    @Test func eventsRecordedWhileTheMailServerIsDownSurviveAKillAndAllArrive() throws {
        let install = try Installation(groupWait: "2s", repeatInterval: "4h")
        install.smtp.stop()
        var daemon = try install.startDaemon()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        // 50 events of five kinds, each durably recorded when `lifeboat notify` returns.
        let types = [
            "pbx.web_user_locked_out", "pbx.sip_trunk_registration_failed", "pbx.cpu_overload",
            "pbx.auto_defense_ip_blocked_out", "pbx.insufficient_storage",
        ]
        var ids: [String] = []
        for i in 0..<50 {
            let result = try install.lifeboat(
                "notify", "--type", types[i % types.count], "--attr", "n=\(i)", "--message", "event number \(i)")
            #expect(result.status == 0, "\(result.output)")
            ids.append(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(ids.allSatisfy { $0.hasPrefix("evt_") })
        // The relay has tried and failed: the notifications wait for a retry, with the reason.
        let tried = try install.eventually(30) {
            let pending = try install.outbox("--pending")
            let events = pending.flatMap { $0["events"] as? [String] ?? [] }
            return Set(events) == Set(ids) && pending.allSatisfy { ($0["last_error"] as? String) != nil }
        }
        #expect(tried, "outbox: \((try? install.outbox()) ?? []); log: \(install.log.suffix(2000))")
        let reason = try install.outbox("--pending").first?["last_error"] as? String ?? ""
        #expect(reason.contains("127.0.0.1:\(install.smtp.port)"), "\(reason)")

        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        #expect(try install.smtp.storedMessages().isEmpty)

        try install.smtp.start()
        daemon = try install.startDaemon()
        let arrived = try install.eventually(60) {
            let text = try install.messages().joined()
            return ids.allSatisfy { text.contains($0) }
        }
        let messages = try install.messages()
        #expect(
            arrived, "\(messages.count) emails; outbox: \((try? install.outbox()) ?? []); log: \(install.log.suffix(2000))")
        // One summary after the outage, not one message per kind (let alone per event).
        #expect(messages.count == 1, "\(messages.count) emails")
        #expect(try install.outbox("--pending").isEmpty)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
    }

    @Test func aMailServerThatRefusesTheLoginFallsBackToTheSignedWebhook() throws {
        let hook = try WebhookTestServer()
        let wrong = NSTemporaryDirectory() + "lifeboat-wrong-smtp-" + UUID().uuidString
        try "not-the-password".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        let contact = """
            {name: ops, levels: [alert], methods: [email, webhook], email: ops@example.com,
                       webhook: {url: "\(hook.url.absoluteString)", secret: {secret_file: \(wrong).hook}, ca_file: \(hook.caFile)}}
            """
        try WebhookTestServer.secret.write(toFile: wrong + ".hook", atomically: true, encoding: .utf8)
        chmod(wrong + ".hook", 0o600)
        defer { try? FileManager.default.removeItem(atPath: wrong + ".hook") }
        let install = try Installation(groupWait: "1s", repeatInterval: "4h", contact: contact, smtpPasswordFile: wrong)
        let daemon = try install.startDaemon()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        let notified = try install.lifeboat("notify", "--type", "pbx.web_user_locked_out", "--attr", "user=admin")
        #expect(notified.status == 0, "\(notified.output)")
        let id = notified.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let arrived = try install.eventually(30) {
            try hook.log().contains { $0.body?.contains(id) == true }
        }
        #expect(arrived, "webhook log: \((try? hook.log()) ?? []); daemon log: \(install.log.suffix(2000))")
        let request = try #require(try hook.log().first { $0.body?.contains(id) == true })
        #expect(request.signatureValid)
        #expect(request.idempotencyKey?.hasPrefix("ntf_") == true)
        #expect(try install.smtp.storedMessages().isEmpty)
        // The refusal is permanent: no retries of the email, one notifier.failed naming the next method.
        let failed = try JSONSerialization.jsonObject(
            with: Data(try install.lifeboat("events", "--json", "--type", "notifier.failed").stdout.utf8)) as? [[String: Any]] ?? []
        let first = try #require(failed.first)
        #expect(first["level"] as? String == "warning")
        let attributes = first["attributes"] as? [String: String] ?? [:]
        #expect(attributes["method"] == "email" && attributes["next_method"] == "webhook", "\(attributes)")
        #expect(attributes["error"]?.contains("535") == true || attributes["error"]?.lowercased().contains("auth") == true, "\(attributes)")
        let delivered = try install.outbox().first { ($0["events"] as? [String])?.contains(id) == true }
        #expect(delivered?["state"] as? String == "delivered")
        #expect(delivered?["method"] as? String == "webhook")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
    }
}
