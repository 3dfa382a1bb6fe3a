import Foundation
import Testing

/// `lifeboat restore --in-place` on a live PBX made of a configuration tree, an SQLite astdb and a
/// MariaDB database on the test servers, with hooks that log their order.
@Suite(.serialized) struct InPlaceRestoreTests {
    @Test func putsEveryComponentBackBetweenTheHooks() throws {
        let pbx = try LivePBXFixture(mariadb: true)
        let backup = try pbx.lifeboat("backup")
        try #require(backup.status == 0, "\(backup.output)")
        let backedUp = try pbx.checksums()
        let longCalls = try pbx.sql("SELECT count(*) FROM \(pbx.database!).long_calls;")
        let restoreDatabases = try pbx.restoreDatabases()

        // The PBX lives on: configuration edited, a file added, astdb and the database changed.
        try "; marker v2-live\n".write(toFile: pbx.pjsip, atomically: true, encoding: .utf8)
        try "new\n".write(toFile: pbx.etc + "/added-later.conf", atomically: true, encoding: .utf8)
        try pbx.sqlite(
            "UPDATE astdb SET value = 'DISABLED' WHERE key = '/CW/1001'; INSERT INTO astdb VALUES ('/NEW', 'x');")
        try pbx.sql(
            """
            USE \(pbx.database!);
            UPDATE devices SET description = 'changed' WHERE id = '1001';
            INSERT INTO devices VALUES ('1003', 'PJSIP/1003', 'Lager');
            DELETE FROM cdr WHERE id % 7 = 0;
            DROP VIEW long_calls;
            DROP TRIGGER devices_audit;
            CREATE TABLE extra (id INT PRIMARY KEY);
            """)
        #expect(try pbx.checksums() != backedUp)

        let restore = try pbx.lifeboat("restore", "--latest", "--in-place")
        #expect(restore.status == 0, "\(restore.output)")
        #expect(restore.stdout.contains("restored snapshot"), "\(restore.output)")

        // Hooks: pre_restore saw the live data, post_restore the restored data; the job's first and
        // last, each command once (cdr's pre_restore is the job's).
        #expect(
            pbx.order() == [
                "pre_restore job marker=; marker v2-live result=",
                "pre_restore config marker=; marker v2-live result=",
                "pre_restore astdb marker=; marker v2-live result=",
                "post_restore astdb marker=; marker v1 result=succeeded",
                "post_restore config marker=; marker v1 result=succeeded",
                "post_restore job marker=; marker v1 result=succeeded",
            ], "\(pbx.order())")

        // Files: the snapshot's tree, plus what its globs leave out (the .bak file).
        #expect(pbx.read(pbx.pjsip).hasPrefix("; marker v1"))
        #expect(!fileExists(pbx.etc + "/added-later.conf"))
        #expect(pbx.read(pbx.etc + "/custom.d/holiday-hours.conf") == "; holidays\n")
        #expect(pbx.read(pbx.etc + "/extensions.conf.bak") == "; old copy, excluded\n")
        // SQLite: the backed-up rows, and a clean integrity check.
        #expect(
            try pbx.sqlite("SELECT value FROM astdb WHERE key = '/CW/1001'; SELECT count(*) FROM astdb;")
                == "ENABLED\n2")
        #expect(try pbx.sqlite("PRAGMA integrity_check;") == "ok")
        // MariaDB: the backed-up tables, view and trigger; a table the dump never held stays.
        #expect(try pbx.checksums() == backedUp)
        let db = pbx.database!
        #expect(try pbx.sql("SELECT count(*) FROM \(db).long_calls;") == longCalls)
        try pbx.sql("INSERT INTO \(db).devices VALUES ('1004', 'PJSIP/1004', 'Test');")
        #expect(try pbx.sql("SELECT what FROM \(db).audit ORDER BY id;") == "added 1001\nadded 1002\nadded 1004\n")
        #expect(try pbx.sql("SHOW TABLES FROM \(db) LIKE 'extra';") == "extra\n")
        #expect(try pbx.sql("SELECT description FROM \(db).devices WHERE id = '1002';") == "Büro Ä\n")

        // Nothing left behind; restore.done in the event log.
        #expect(pbx.leftovers().isEmpty, "\(pbx.leftovers())")
        #expect(try pbx.restoreDatabases() == restoreDatabases)
        let done = try pbx.events().filter { $0["type"] as? String == "restore.done" }
        #expect(done.count == 1)
        let attributes = done.first?["attributes"] as? [String: String] ?? [:]
        #expect(attributes["components"] == "cdr config astdb" && attributes["mode"] == "in-place", "\(attributes)")
    }

    @Test func aFailureBetweenComponentsPutsTheEarlierOnesBack() throws {
        let pbx = try LivePBXFixture(mariadb: true, hooks: .init())
        // After staging, while the PBX is stopped, the astdb file becomes a folder: the third component
        // (astdb) cannot be replaced after the first two (cdr, config) were.
        var hooks = LivePBXFixture.orderHooks(pbx.logHook)
        let obstacle = pbx.dir + "/hooks/obstacle.sh"
        try "#!/bin/sh\nmv '\(pbx.astdb)' '\(pbx.astdb).saved' && mkdir '\(pbx.astdb)'\n"
            .write(toFile: obstacle, atomically: true, encoding: .utf8)
        hooks.sources["astdb"] = "pre_restore: [/bin/sh, \(obstacle)], post_restore: [/bin/sh, \(pbx.logHook), astdb]"
        try pbx.writeConfig(hooks: hooks)
        try #require(try pbx.lifeboat("backup").status == 0)
        let restoreDatabases = try pbx.restoreDatabases()

        try "; marker v2-live\n".write(toFile: pbx.pjsip, atomically: true, encoding: .utf8)
        try pbx.sql("UPDATE \(pbx.database!).devices SET description = 'changed' WHERE id = '1001';")
        let live = try pbx.checksums()

        let restore = try pbx.lifeboat("restore", "--latest", "--in-place")
        #expect(restore.status == 1, "\(restore.output)")
        #expect(restore.stderr.contains("component 'astdb' failed"), "\(restore.stderr)")
        #expect(restore.stderr.contains("is a folder, not a database file"), "\(restore.stderr)")
        #expect(
            restore.stderr.contains("Put back: config: \(pbx.etc) as it was; cdr: database \(pbx.database!) as it was"),
            "\(restore.stderr)")
        #expect(!restore.stderr.contains("NOT put back"), "\(restore.stderr)")

        // What was there is there: the live configuration and database, the folder the hook made.
        #expect(pbx.read(pbx.pjsip) == "; marker v2-live\n")
        #expect(try pbx.checksums() == live)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: pbx.astdb, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(pbx.leftovers().isEmpty, "\(pbx.leftovers())")
        #expect(try pbx.restoreDatabases() == restoreDatabases)
        // post_restore still ran (the PBX comes back up), told the restore failed.
        #expect(
            pbx.order().suffix(3) == [
                "post_restore astdb marker=; marker v2-live result=failed",
                "post_restore config marker=; marker v2-live result=failed",
                "post_restore job marker=; marker v2-live result=failed",
            ], "\(pbx.order())")
        let failed = try pbx.events().filter { $0["type"] as? String == "restore.failed" }
        #expect(failed.count == 1 && failed.first?["level"] as? String == "alert", "\(failed)")
    }

    @Test func theFirmwareGateRefusesANewerSnapshotUnlessForced() throws {
        let pbx = try LivePBXFixture(mariadb: false)
        try #require(try pbx.lifeboat("backup").status == 0)
        try "; marker v2-live\n".write(toFile: pbx.pjsip, atomically: true, encoding: .utf8)

        // The PBX was downgraded: 16.0.1's data is refused on 15.0.2.
        try "15.0.2\n".write(toFile: pbx.versionFile, atomically: true, encoding: .utf8)
        let refused = try pbx.lifeboat("restore", "--latest", "--in-place")
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("made on firmware '16.0.1', newer than the running firmware '15.0.2'"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("--force"))
        #expect(pbx.read(pbx.pjsip) == "; marker v2-live\n")
        #expect(pbx.order().isEmpty, "no hook runs for a refused snapshot")

        // An unknown running version is refused too, saying which one is unknown.
        try FileManager.default.removeItem(atPath: pbx.versionFile)
        let unknown = try pbx.lifeboat("restore", "--latest", "--in-place")
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("the running firmware version is unknown"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("'16.0.1'"))

        try "15.0.2\n".write(toFile: pbx.versionFile, atomically: true, encoding: .utf8)
        let forced = try pbx.lifeboat("restore", "--latest", "--in-place", "--force", "--component", "config")
        #expect(forced.status == 0, "\(forced.output)")
        #expect(forced.stdout.contains("warning: --force:"))
        #expect(pbx.read(pbx.pjsip).hasPrefix("; marker v1"))

        // The same or an older firmware's snapshot goes through without --force.
        try "16.0.1\n".write(toFile: pbx.versionFile, atomically: true, encoding: .utf8)
        #expect(try pbx.lifeboat("restore", "--latest", "--in-place", "--component", "astdb").status == 0)
    }

    @Test func aFailingPreRestoreHookChangesNothing() throws {
        let pbx = try LivePBXFixture(mariadb: false, hooks: .init())
        var hooks = LivePBXFixture.orderHooks(pbx.logHook)
        hooks.job = [
            "    pre_restore: [[/bin/sh, \(pbx.logHook), job], [/bin/sh, -c, \"echo asterisk will not stop >&2; exit 4\"]]",
            "    post_restore: [/bin/sh, \(pbx.logHook), job]",
        ]
        try pbx.writeConfig(hooks: hooks)
        try #require(try pbx.lifeboat("backup").status == 0)
        try "; marker v2-live\n".write(toFile: pbx.pjsip, atomically: true, encoding: .utf8)

        let restore = try pbx.lifeboat("restore", "--latest", "--in-place")
        #expect(restore.status == 1)
        #expect(restore.stderr.contains("failed (exit status 4): asterisk will not stop"), "\(restore.stderr)")
        #expect(restore.stderr.contains("Nothing was changed"))
        #expect(pbx.read(pbx.pjsip) == "; marker v2-live\n")
        #expect(pbx.leftovers().isEmpty)
        #expect(
            pbx.order() == [
                "pre_restore job marker=; marker v2-live result=",
                "post_restore astdb marker=; marker v2-live result=failed",
                "post_restore config marker=; marker v2-live result=failed",
                "post_restore job marker=; marker v2-live result=failed",
            ], "\(pbx.order())")
    }
}
