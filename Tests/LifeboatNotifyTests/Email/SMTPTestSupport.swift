import Foundation
import LifeboatCore
import Testing

@testable import LifeboatNotify

/// The shared SMTP servers of `packaging/test-servers.sh` (servers.env): STARTTLS required + AUTH
/// on SMTP_STARTTLS_PORT, implicit TLS + AUTH on SMTP_TLS_PORT, plain + AUTH without STARTTLS on
/// SMTP_PLAIN_PORT, all storing into SMTP_MAILBOX. Tests running in parallel share the mailbox and
/// find their own message by its Message-ID.
struct SMTPTestServers {
    let servers: TestServers

    init() throws {
        servers = try TestServers.load()
    }

    var password: String {
        get throws { try servers.contents(ofFileIn: "SMTP_PASSWORD_FILE") }
    }

    /// A configuration for the shared servers; by default STARTTLS with the test login and CA.
    func configuration(
        security: SMTPConfiguration.Security = .starttls, port: Int? = nil, username: String?? = nil,
        password: Secret?? = nil, caFile: String?? = nil, allowInsecure: Bool = false, timeout: Double = 10,
        from: String = "Lifeboat PBX <pbx@example.com>"
    ) throws -> SMTPConfiguration {
        let portKey =
            switch security {
            case .starttls: "SMTP_STARTTLS_PORT"
            case .tls: "SMTP_TLS_PORT"
            case .none: "SMTP_PLAIN_PORT"
            }
        return try SMTPConfiguration(
            host: "127.0.0.1", port: try port ?? servers.port(portKey), security: security,
            username: try username ?? servers["SMTP_USERNAME"],
            password: try password ?? Secret(self.password),
            from: EmailAddress(parsing: from), caFile: try caFile ?? servers["SMTP_CA_FILE"],
            allowInsecure: allowInsecure, timeout: timeout)
    }

    /// The stored message (`.eml` bytes and `.json` envelope) with `messageID`, or nil.
    func stored(messageID: String, mailbox: String? = nil) throws -> StoredMail? {
        let mailbox = try mailbox ?? servers["SMTP_MAILBOX"]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: mailbox)) ?? []
        var found: [StoredMail] = []
        for name in names where name.hasSuffix(".json") {
            let base = mailbox + "/" + String(name.dropLast(".json".count))
            guard let data = FileManager.default.contents(atPath: base + ".json"),
                let envelope = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                envelope["message_id"] as? String == messageID,
                let raw = FileManager.default.contents(atPath: base + ".eml")
            else { continue }
            found.append(StoredMail(path: base + ".eml", raw: Array(raw), envelope: envelope))
        }
        #expect(found.count <= 1, "\(messageID) was stored \(found.count) times")
        return found.first
    }

    /// Python's `email` package (policy.default) reading the stored file: an independent parser.
    func pythonView(of path: String) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try servers["TEST_PYTHON"])
        process.arguments = ["-c", Self.pythonParser, path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let view = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw RawMail.Malformed(
                description: "python could not parse \(path): \(String(decoding: data, as: UTF8.self))")
        }
        return view
    }

    private static let pythonParser = """
        import email, email.policy, json, sys
        with open(sys.argv[1], "rb") as f:
            m = email.message_from_binary_file(f, policy=email.policy.default)
        defects = [repr(d) for d in m.defects]
        for name, value in m.items():
            defects += [f"{name}: {d!r}" for d in getattr(value, "defects", ())]
        mailboxes = lambda h: [[a.display_name, a.addr_spec] for a in m[h].addresses]
        print(json.dumps({
            "subject": str(m["subject"]), "from": mailboxes("from"), "to": mailboxes("to"),
            "date": m["date"].datetime.isoformat(), "message_id": str(m["message-id"]),
            "content_type": m.get_content_type(), "charset": m.get_content_charset(),
            "transfer_encoding": m.get("content-transfer-encoding"), "body": m.get_content(),
            "defects": defects,
        }))
        """
}

/// A message the server stored: its bytes as received and the envelope it recorded.
struct StoredMail {
    let path: String
    let raw: [UInt8]
    let envelope: [String: Any]
}
