import Foundation
import Testing

/// `pre_backup` / `post_backup` through `lifeboat backup`: their order around the backup, a failing
/// `pre_backup` stopping it, and their outcomes and output in the run record (`run_hooks`).
@Suite struct BackupHookTests {
    /// The hook rows of the newest run: `phase|ok|error|stdout|stderr`.
    func hookRows(_ pbx: LivePBXFixture) throws -> [String] {
        let result = try Harness.run(
            "sqlite3",
            [
                pbx.dir + "/state/state.sqlite3",
                "SELECT phase, ok, coalesce(error, ''), trim(stdout, char(10)), trim(stderr, char(10)) FROM run_hooks WHERE run_id = (SELECT max(id) FROM runs) ORDER BY seq",
            ])
        return result.stdout.split(separator: "\n").map(String.init)
    }

    func lastRun(_ pbx: LivePBXFixture) throws -> String {
        try Harness.run(
            "sqlite3",
            [pbx.dir + "/state/state.sqlite3", "SELECT result, coalesce(error, '') FROM runs ORDER BY id DESC LIMIT 1"]
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func preBackupRunsBeforeAndPostBackupAfterTheBackup() throws {
        let pbx = try LivePBXFixture(mariadb: false, hooks: .init())
        let pre = pbx.dir + "/hooks/pre.sh"
        let post = pbx.dir + "/hooks/post.sh"
        // pre_backup writes a file the snapshot must hold; post_backup counts the committed sidecars.
        try
            "#!/bin/sh\necho \"$LIFEBOAT_HOOK $LIFEBOAT_JOB\" >> '\(pbx.orderLog)'\necho flushed > '\(pbx.etc)/flushed-by-pre-backup.conf'\necho pre says hello\n"
            .write(toFile: pre, atomically: true, encoding: .utf8)
        try
            "#!/bin/sh\necho \"$LIFEBOAT_HOOK $LIFEBOAT_RESULT $LIFEBOAT_SNAPSHOT sidecars=$(find '\(pbx.store)' -name '*.json' | wc -l)\" >> '\(pbx.orderLog)'\n"
            .write(toFile: post, atomically: true, encoding: .utf8)
        try pbx.writeConfig(
            hooks: .init(job: [
                "    pre_backup: [/bin/sh, \(pre)]",
                "    post_backup: [[/bin/sh, \(post)], {run: [/bin/sh, -c, \"echo post failed >&2; exit 1\"], timeout: 10s}]",
            ]))

        let backup = try pbx.lifeboat("backup", "--json")
        #expect(backup.status == 0, "\(backup.output)")
        let snapshot = try #require(
            (try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])?["snapshot"] as? String
        )
        #expect(
            pbx.order() == ["pre_backup nightly", "post_backup succeeded \(snapshot) sidecars=1"], "\(pbx.order())")
        // A failing post_backup is logged and recorded, and the run still succeeded.
        #expect(backup.stderr.contains("Hook failed"), "\(backup.stderr)")
        #expect(try lastRun(pbx) == "succeeded|")
        #expect(
            try hookRows(pbx) == [
                "pre_backup|1||pre says hello|", "post_backup|1|||", "post_backup|0|exit status 1||post failed",
            ])

        let out = pbx.dir + "/out"
        #expect(try pbx.lifeboat("restore", snapshot, "--target", out, "--component", "config").status == 0)
        #expect(fileExists(out + "/components/config" + pbx.etc + "/flushed-by-pre-backup.conf"))
    }

    @Test func aFailingPreBackupStopsTheBackup() throws {
        let pbx = try LivePBXFixture(mariadb: false, hooks: .init())
        let post = pbx.dir + "/hooks/post.sh"
        try "#!/bin/sh\necho \"$LIFEBOAT_HOOK $LIFEBOAT_RESULT\" >> '\(pbx.orderLog)'\n"
            .write(toFile: post, atomically: true, encoding: .utf8)
        try pbx.writeConfig(
            hooks: .init(job: [
                "    pre_backup: [/bin/sh, -c, \"echo stopping queues; echo fwconsole: cannot reach the database >&2; exit 3\"]",
                "    post_backup: [/bin/sh, \(post)]",
            ]))

        let backup = try pbx.lifeboat("backup")
        #expect(backup.status == 1, "\(backup.output)")
        #expect(
            backup.stderr.contains("failed (exit status 3): fwconsole: cannot reach the database"), "\(backup.stderr)")
        #expect(backup.stderr.contains("the backup did not run"))
        #expect(try pbx.sidecarsAndArchives().isEmpty)
        #expect(pbx.order() == ["post_backup failed"])
        let run = try lastRun(pbx)
        #expect(run.hasPrefix("failed|pre_backup ["), "\(run)")
        #expect(run.contains("fwconsole: cannot reach the database"), "\(run)")
        #expect(
            try hookRows(pbx) == [
                "pre_backup|0|exit status 3|stopping queues|fwconsole: cannot reach the database", "post_backup|1|||",
            ])
        let failed = try pbx.events().filter { $0["type"] as? String == "backup.failed" }
        #expect(failed.count == 1)
    }

    @Test func aHookThatOutlivesItsTimeoutIsStopped() throws {
        let pbx = try LivePBXFixture(mariadb: false, hooks: .init())
        try pbx.writeConfig(hooks: .init(job: ["    pre_backup: {run: [/bin/sleep, \"30\"], timeout: 1s}"]))
        let started = Date()
        let backup = try pbx.lifeboat("backup")
        #expect(backup.status == 1)
        #expect(backup.stderr.contains("pre_backup [/bin/sleep 30] failed (timed out after"), "\(backup.stderr)")
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(try pbx.sidecarsAndArchives().isEmpty)
    }
}

extension LivePBXFixture {
    /// Every file in the store.
    func sidecarsAndArchives() throws -> [String] {
        (FileManager.default.subpaths(atPath: store) ?? []).filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: store + "/" + $0, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
    }
}
