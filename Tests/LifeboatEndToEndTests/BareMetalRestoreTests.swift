import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The disaster case: the PBX and its state are gone; a new machine has Lifeboat, a configuration that
/// names only the store and the key, and no state. `snapshots --store --host` lists the old host's
/// snapshots and `restore --latest --store --host` restores the newest one whose stored bytes match
/// its sidecar, into a folder or in place.
@Suite struct BareMetalRestoreTests {
    @Test func theNewestGoodSnapshotComesBackOnANewMachine() throws {
        let pbx = try LivePBXFixture(mariadb: false, hooks: .init())
        try #require(try pbx.lifeboat("backup").status == 0)
        try "; marker v2\n".write(toFile: pbx.pjsip, atomically: true, encoding: .utf8)
        try #require(try pbx.lifeboat("backup").status == 0)
        try "; marker v3\n".write(toFile: pbx.pjsip, atomically: true, encoding: .utf8)
        try #require(try pbx.lifeboat("backup").status == 0)
        let archives = (FileManager.default.subpaths(atPath: pbx.store) ?? []).filter { $0.hasSuffix(".age") }.sorted()
        try #require(archives.count == 3)
        // The newest archive is damaged on the store (its sidecar still lists it).
        try flipByte(in: pbx.store + "/" + archives[2], at: try fileSize(pbx.store + "/" + archives[2]) / 2)
        let newest = String(archives[2].split(separator: "/").last!.split(separator: "-")[1].prefix(8))

        // The old machine is gone: its state, its configuration, its PBX.
        try FileManager.default.removeItem(atPath: pbx.dir + "/state")
        try FileManager.default.removeItem(atPath: pbx.config)
        try FileManager.default.removeItem(atPath: pbx.dir + "/pbx")
        let fresh = pbx.dir + "/new-machine.yaml"
        try """
        host: new-pbx
        state_dir: \(pbx.dir)/new-state
        encryption: {identity_file: \(pbx.key)}
        stores: [{name: offsite, kind: local, path: \(pbx.store)}]

        """.write(toFile: fresh, atomically: true, encoding: .utf8)
        chmod(fresh, 0o600)
        func lifeboat(_ arguments: String...) throws -> Harness.Result {
            try Harness.lifeboat(arguments + ["--config", fresh])
        }

        let listed = try lifeboat("snapshots", "--store", "offsite", "--host", "pbx1", "--json")
        #expect(listed.status == 0, "\(listed.output)")
        let list = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(
            list.count == 3 && list.allSatisfy { $0["host"] as? String == "pbx1" && $0["job"] as? String == "nightly" })

        // Into a folder: the newest snapshot fails its check and is skipped for the one before.
        let out = pbx.dir + "/out"
        let restore = try lifeboat("restore", "--latest", "--store", "offsite", "--host", "pbx1", "--target", out)
        #expect(restore.status == 0, "\(restore.output)")
        #expect(restore.stderr.contains("warning: snapshot \(newest) from offsite"), "\(restore.stderr)")
        #expect(restore.stderr.contains("skipped"))
        #expect(pbx.read(out + "/components/config" + pbx.etc + "/pjsip.conf") == "; marker v2\n")
        #expect(!fileExists(pbx.dir + "/new-state/state.sqlite3"), "no state database is needed")

        // In place: every component where it was backed up from. The new machine does not know its
        // firmware version, so the gate asks for --force.
        let refused = try lifeboat("restore", "--latest", "--store", "offsite", "--host", "pbx1", "--in-place")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the running firmware version is unknown"), "\(refused.stderr)")
        #expect(!fileExists(pbx.pjsip))
        let inPlace = try lifeboat(
            "restore", "--latest", "--store", "offsite", "--host", "pbx1", "--in-place", "--force")
        #expect(inPlace.status == 0, "\(inPlace.output)")
        #expect(pbx.read(pbx.pjsip) == "; marker v2\n")
        #expect(pbx.read(pbx.etc + "/custom.d/holiday-hours.conf") == "; holidays\n")
        #expect(
            try pbx.sqlite("SELECT value FROM astdb WHERE key = '/CW/1001'; PRAGMA integrity_check;") == "ENABLED\nok")
        #expect(pbx.leftovers().isEmpty, "\(pbx.leftovers())")

        // When no snapshot is good, nothing is restored and every failure is named.
        for archive in archives.prefix(2) { try flipByte(in: pbx.store + "/" + archive, at: 100) }
        let none = try lifeboat(
            "restore", "--latest", "--store", "offsite", "--host", "pbx1", "--target", pbx.dir + "/none")
        #expect(none.status == 1)
        #expect(none.stderr.contains("no snapshot of host 'pbx1' could be restored"), "\(none.stderr)")
        #expect(!fileExists(pbx.dir + "/none"))
    }
}
