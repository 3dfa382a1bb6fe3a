#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import GRDB
import LifeboatCore

/// Seeds a small but realistic Asterisk-style PBX in a folder: configuration files, an astdb, a CDR
/// database and voicemail recordings.
struct DemoPBX {
    let root: String

    var asteriskConfig: String { root + "/etc/asterisk" }
    var astdb: String { root + "/var/lib/asterisk/astdb.sqlite3" }
    var cdr: String { root + "/var/log/asterisk/cdr.sqlite3" }
    var voicemail: String { root + "/var/spool/asterisk/voicemail" }
    var versionFile: String { root + "/etc/pbx-version" }

    static let extensions = (1001...1012).map(String.init)

    func seed() throws {
        let fm = FileManager.default
        for dir in [asteriskConfig, root + "/var/lib/asterisk", root + "/var/log/asterisk", voicemail] {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try write(versionFile, "20.11.1-lifeboat-demo\n")
        try seedConfiguration()
        try seedAstDB()
        try seedCDR(rows: 5000)
        try seedVoicemail()
    }

    private func write(_ path: String, _ text: String, mode: Int = 0o640) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
    }

    private func seedConfiguration() throws {
        var pjsip = "; PJSIP endpoints (generated demo)\n[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5060\n\n"
        var voicemailConf = "[general]\nformat=wav49|wav\nmaxmsg=100\n\n[default]\n"
        var extensionsConf = "[from-internal]\n"
        for ext in Self.extensions {
            pjsip += """
                [\(ext)]
                type=endpoint
                context=from-internal
                disallow=all
                allow=ulaw,alaw,g722
                auth=auth\(ext)
                aors=\(ext)
                mailboxes=\(ext)@default

                [auth\(ext)]
                type=auth
                auth_type=userpass
                username=\(ext)
                password=demo-\(ext)-secret

                [\(ext)]
                type=aor
                max_contacts=2


                """
            voicemailConf += "\(ext) => 4\(ext.suffix(3)),Extension \(ext),vm\(ext)@example.com\n"
            extensionsConf += "exten => \(ext),1,Dial(PJSIP/\(ext),25)\n same => n,VoiceMail(\(ext)@default,u)\n same => n,Hangup()\n"
        }
        extensionsConf += "\n[from-trunk]\nexten => _X.,1,Goto(ivr-main,s,1)\n\n[ivr-main]\nexten => s,1,Answer()\n same => n,Background(custom/welcome)\n same => n,WaitExten(5)\n"
        try write(asteriskConfig + "/pjsip.conf", pjsip)
        try write(asteriskConfig + "/voicemail.conf", voicemailConf)
        try write(asteriskConfig + "/extensions.conf", extensionsConf)
        try write(asteriskConfig + "/asterisk.conf", "[directories]\nastetcdir => /etc/asterisk\nastdbdir => /var/lib/asterisk\n[options]\nverbose = 3\n")
        try write(asteriskConfig + "/manager.conf", "[general]\nenabled = yes\nport = 5038\nbindaddr = 127.0.0.1\n\n[lifeboat]\nsecret = demo-ami-secret\nread = system,call\nwrite = originate\n", mode: 0o600)
        try write(asteriskConfig + "/modules.conf", "[modules]\nautoload=yes\nnoload => chan_sip.so\n")
        try write(asteriskConfig + "/extensions.conf.bak", "; an editor backup, excluded by the demo's exclude glob\n")
        try FileManager.default.createDirectory(atPath: asteriskConfig + "/keys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: asteriskConfig + "/custom.d", withIntermediateDirectories: true)
        try write(asteriskConfig + "/custom.d/holiday-hours.conf", "; empty folder keys/ must survive too\n[holidays]\n2026-12-25 => closed\n")
        unlink(asteriskConfig + "/sip.conf")
        symlink("pjsip.conf", asteriskConfig + "/sip.conf")
    }

    private func seedAstDB() throws {
        let db = try DatabaseQueue(path: astdb)
        try db.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS astdb (key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key))")
            for ext in Self.extensions {
                try db.execute(sql: "INSERT OR REPLACE INTO astdb VALUES (?, ?)", arguments: ["/AMPUSER/\(ext)/cidname", "Extension \(ext)"])
                try db.execute(sql: "INSERT OR REPLACE INTO astdb VALUES (?, ?)", arguments: ["/AMPUSER/\(ext)/voicemail", "default"])
                try db.execute(sql: "INSERT OR REPLACE INTO astdb VALUES (?, ?)", arguments: ["/CF/\(ext)", ""])
                try db.execute(sql: "INSERT OR REPLACE INTO astdb VALUES (?, ?)", arguments: ["/DND/\(ext)", ext == "1005" ? "YES" : ""])
                try db.execute(sql: "INSERT OR REPLACE INTO astdb VALUES (?, ?)", arguments: ["/registrar/contact/\(ext)", "{\"uri\":\"sip:\(ext)@192.0.2.\(ext.suffix(2)):5060\"}"])
            }
        }
        try db.close()
    }

    private func seedCDR(rows: Int) throws {
        let db = try DatabaseQueue(path: cdr)
        try db.write { db in
            try db.execute(sql: "PRAGMA journal_mode=WAL")
        }
        try db.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS cdr (id INTEGER PRIMARY KEY, calldate TEXT, clid TEXT, src TEXT, dst TEXT,
                  dcontext TEXT, channel TEXT, dstchannel TEXT, lastapp TEXT, duration INTEGER, billsec INTEGER,
                  disposition TEXT, uniqueid TEXT)
                """)
            for i in 0..<rows { try Self.insertCall(db, i) }
        }
        try db.close()
    }

    static func insertCall(_ db: Database, _ i: Int) throws {
        let src = extensions[i % extensions.count]
        let dst = i % 3 == 0 ? "0049301234\(String(format: "%04d", i % 10000))" : extensions[(i * 7) % extensions.count]
        let answered = i % 5 != 0
        try db.execute(
            sql: "INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, duration, billsec, disposition, uniqueid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            arguments: [
                Timestamp.demoDate(i), "\"Extension \(src)\" <\(src)>", src, dst, "from-internal",
                "PJSIP/\(src)-0000\(i % 100)", "PJSIP/\(dst)-0000\(i % 97)", "Dial", 30 + i % 600,
                answered ? 25 + i % 590 : 0, answered ? "ANSWERED" : "NO ANSWER", "1764000000.\(i)",
            ])
    }

    private func seedVoicemail() throws {
        var rng = SeededGenerator(seed: 42)
        for (n, ext) in Self.extensions.enumerated() {
            let inbox = voicemail + "/default/\(ext)/INBOX"
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            for m in 0..<(n % 3 + 1) {
                let seconds = 4 + (n * 3 + m * 5) % 12
                try Data(Self.wav(seconds: seconds, tone: 300 + Double(n * 40 + m * 17), rng: &rng))
                    .write(to: URL(fileURLWithPath: inbox + String(format: "/msg%04d.wav", m)))
                try write(inbox + String(format: "/msg%04d.txt", m), """
                    ;
                    ; Message Information file
                    ;
                    [message]
                    origmailbox=\(ext)
                    context=from-internal
                    callerid="Caller" <0049301234\(m)\(n)>
                    origdate=Thu Nov 26 09:\(10 + m):00 AM UTC 2026
                    duration=\(seconds)

                    """)
            }
            try FileManager.default.createDirectory(atPath: voicemail + "/default/\(ext)/Old", withIntermediateDirectories: true)
        }
    }

    /// 8 kHz 16-bit mono PCM: a tone with noise, as a recorded voice message compresses.
    static func wav(seconds: Int, tone: Double, rng: inout SeededGenerator) -> [UInt8] {
        let rate = 8000
        let samples = rate * seconds
        var out: [UInt8] = []
        out.reserveCapacity(44 + samples * 2)
        func u32(_ v: Int) { out += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) { out += withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        out += Array("RIFF".utf8); u32(36 + samples * 2); out += Array("WAVEfmt ".utf8)
        u32(16); u16(1); u16(1); u32(rate); u32(rate * 2); u16(2); u16(16)
        out += Array("data".utf8); u32(samples * 2)
        for i in 0..<samples {
            let t = Double(i) / Double(rate)
            let envelope = 0.5 + 0.5 * sin(2 * .pi * 0.7 * t)
            let noise = Double(Int(rng.next() % 2001) - 1000)
            let value = Int(envelope * 9000 * sin(2 * .pi * tone * t) + noise)
            u16(Int(UInt16(bitPattern: Int16(clamping: value))))
        }
        return out
    }
}

extension Timestamp {
    static func demoDate(_ i: Int) -> String {
        let date = Date(timeIntervalSince1970: 1_764_000_000 + Double(i) * 97)
        return Timestamp.iso8601(date)
    }
}
