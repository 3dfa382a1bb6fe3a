import Foundation
import Testing

/// `kill -9` of `lifeboat backup` at any moment leaves no incomplete object under a final name and no
/// listed snapshot that fails to verify; the next run cleans up and succeeds.
@Suite struct CrashSafetyTests {
    @Test func killDashNineAtRandomMomentsLosesNothing() throws {
        let f = try DemoFixture()
        // Make the backup take long enough to be killed in every phase: 48 MiB of recordings.
        let big = f.pbx + "/var/spool/asterisk/voicemail/default/1001/INBOX"
        var rng = SystemRandomNumberGenerator()
        for i in 0..<6 {
            let bytes = (0..<(8 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try Data(bytes).write(to: URL(fileURLWithPath: big + "/long\(i).wav"))
        }
        var delays: [Int] = [0, 5, 20, 50, 100, 200, 400]
        for _ in 0..<5 { delays.append(Int.random(in: 0...600)) }
        for delay in delays {
            let process = try Harness.spawn(["backup", "--config", f.config])
            usleep(useconds_t(delay * 1000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()

            // No final-named object is incomplete: every archive under a final name is either a
            // listed snapshot that verifies, or an orphan (complete, without sidecar) never listed.
            let verify = try f.lifeboat("verify")
            #expect(verify.status == 0, "after kill at \(delay) ms: \(verify.output)")
            for archive in try f.archives() {
                let sidecar = archive.replacingOccurrences(of: ".tar.zst.age", with: ".json")
                if !fileExists(sidecar) {
                    // An orphan must never show up in the listing.
                    let listed = try f.snapshotsJSON().contains { (archive.hasSuffix($0["archive"] as? String ?? "?")) }
                    #expect(!listed)
                }
            }
        }
        // The next run removes partial uploads and orphans, and succeeds.
        let next = try f.lifeboat("backup")
        #expect(next.status == 0, "\(next.output)")
        let leftovers = try f.files(in: f.store).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)
        for archive in try f.archives() {
            #expect(fileExists(archive.replacingOccurrences(of: ".tar.zst.age", with: ".json")), "orphan left: \(archive)")
        }
        #expect(try f.lifeboat("verify", "--deep").status == 0)
        let staging = try FileManager.default.contentsOfDirectory(atPath: f.dir + "/state/staging")
        #expect(staging.isEmpty, "database copies of killed runs are removed: \(staging)")
    }

    @Test func aSecondBackupOfTheSameJobWaitsItsTurn() throws {
        let f = try DemoFixture()
        let lockHolder = Process()
        lockHolder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        lockHolder.arguments = [f.dir + "/state/locks/nightly.lock", "sleep", "5"]
        try lockHolder.run()
        defer { lockHolder.terminate() }
        usleep(300_000)
        let result = try f.lifeboat("backup")
        #expect(result.status == 75, "\(result.output)")
        #expect(result.stderr.contains("already running"))
    }
}
