import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `lifeboat backup` to a SharePoint library on the Microsoft Graph test server
/// (`packaging/test-servers/graph_server.py`, one per test): the archive goes up through an upload
/// session; curl fetches it back on its own (a token from the token endpoint, then the 302 of
/// `…/content` followed to the pre-authenticated URL without the token), and stock `age` and `tar`
/// open it.
@Suite struct SharePointTests {
    /// Adds a SharePoint store with 640 KiB fragments and about 6 MiB of incompressible voicemail, so
    /// the archive is over the 4 MiB simple-upload limit.
    func addSharePointStore(to f: DemoFixture, server: GraphTestServer, secret: String = GraphTestServer.clientSecret)
        throws
    {
        let secretFile = f.dir + "/sharepoint.secret"
        try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
        chmod(secretFile, 0o600)
        let stores = """
            stores:
              - {name: sp, kind: sharepoint, tenant_id: "\(GraphTestServer.tenant)", client_id: "\(GraphTestServer.clientID)",
                 client_secret: {secret_file: \(secretFile)}, site: "\(GraphTestServer.site)", folder: "PBX Backups",
                 chunk_size: 640KiB, graph_url: "\(server.graphURL)", login_url: "\(server.baseURL)", ca_file: \(server.caFile)}

            """
        try f.editConfig {
            $0.replacingOccurrences(of: "stores:\n", with: stores)
                .replacingOccurrences(of: "stores: [local]}", with: "stores: [local, sp]}")
        }
        let folder = f.pbx + "/var/spool/asterisk/voicemail/default/1999/INBOX"
        let noise = try Harness.shell(
            "mkdir -p '\(folder)' && head -c \(6 << 20) /dev/urandom > '\(folder)/msg9999.wav'")
        #expect(noise.status == 0, "\(noise.output)")
    }

    func backupJSON(_ result: Harness.Result) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.output)")
    }

    @Test func backupToSharePointGoesUpInFragmentsAndOpensWithCurlAgeAndTar() throws {
        let server = try GraphTestServer()
        let f = try DemoFixture()
        try addSharePointStore(to: f, server: server)
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 0, "\(backup.output)")
        let json = try backupJSON(backup)
        let archive = try #require(json["archive"] as? String)
        let outcomes = try #require(json["stores"] as? [[String: Any]])
        #expect(outcomes.map { $0["ok"] as? Bool } == [true, true])
        let verification = try #require(outcomes[1]["verification"] as? String)
        #expect(verification.hasSuffix("fragments, quickXorHash and size checked"), "\(verification)")

        // Fetched by curl alone: a token, the library, the redirect, the pre-authenticated download.
        let target = f.dir + "/via-curl"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let path = (["PBX Backups"] + archive.split(separator: "/").map(String.init))
            .map {
                $0.addingPercentEncoding(
                    withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? $0
            }
            .joined(separator: "/")
        let curl = "curl -sSf --cacert '\(server.caFile)'"
        let field = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"
        let fetch = try Harness.shell(
            """
            set -e
            token=$(\(curl) --data-urlencode grant_type=client_credentials --data-urlencode client_id=\(GraphTestServer.clientID) \
              --data-urlencode client_secret@'\(f.dir)/sharepoint.secret' --data-urlencode scope=https://graph.microsoft.com/.default \
              '\(server.baseURL)/\(GraphTestServer.tenant)/oauth2/v2.0/token' | \(field) access_token)
            drive=$(\(curl) -H "Authorization: Bearer $token" '\(server.graphURL)/sites/\(GraphTestServer.site):/drive' | \(field) id)
            location=$(\(curl) -H "Authorization: Bearer $token" -o /dev/null -w '%{redirect_url}' \
              "\(server.graphURL)/drives/$drive/root:/\(path):/content")
            \(curl) -o '\(target)/a.age' "$location"
            age -d -i '\(f.key)' '\(target)/a.age' | tar --zstd -xf - -C '\(target)'
            cd '\(target)' && sha256sum -c --quiet lifeboat/SHA256SUMS
            """)
        #expect(fetch.status == 0, "\(fetch.output)")

        let log = try server.log()
        #expect(log.filter { $0.kind == "fragment" }.count >= 9)
        #expect(!log.contains { ["fragment", "session_status", "download"].contains($0.kind) && $0.authorization })
        let spool = (try? FileManager.default.contentsOfDirectory(atPath: f.dir + "/state/spool/sharepoint-sp")) ?? []
        #expect(spool.isEmpty, "spool files left: \(spool)")

        let verify = try f.lifeboat("verify", "--latest", "--store", "sp", "--deep", "--identity", f.key)
        #expect(verify.status == 0, "\(verify.output)")
        let list = try f.lifeboat("snapshots", "--store", "sp", "--json")
        #expect(list.status == 0 && list.stdout.contains(json["snapshot"] as! String), "\(list.output)")
        let restored = f.dir + "/restore-sp"
        let restore = try f.lifeboat("restore", "--latest", "--store", "sp", "--identity", f.key, "--target", restored)
        #expect(restore.status == 0, "\(restore.output)")
    }

    /// SharePoint reports another QuickXorHash than the archive sent: the store's upload fails, the
    /// file is deleted, no sidecar is written, so no snapshot exists there; the local store has one.
    @Test func aQuickXorHashMismatchFailsTheStoreAndCommitsNoSnapshot() throws {
        let server = try GraphTestServer()
        let f = try DemoFixture()
        try addSharePointStore(to: f, server: server)
        try server.addFaults([["kind": "fragment", "corrupt_hash": true, "times": 1000]])
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 2, "\(backup.output)")
        let outcomes = try #require(try backupJSON(backup)["stores"] as? [[String: Any]])
        #expect(outcomes.map { $0["ok"] as? Bool } == [true, false])
        let error = try #require(outcomes[1]["error"] as? String)
        #expect(error.contains("quickXorHash") && error.contains("not what was sent"), "\(error)")
        #expect(try server.items().filter { !$0.folder }.isEmpty, "files left on SharePoint")
        let list = try f.lifeboat("snapshots", "--store", "sp", "--json")
        #expect(list.status == 0, "\(list.output)")
        let snapshots = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any]
        #expect(snapshots?.isEmpty == true, "\(list.output)")
    }

    @Test func aWrongClientSecretFailsTheStoreWithAClearMessage() throws {
        let server = try GraphTestServer()
        let f = try DemoFixture()
        try addSharePointStore(to: f, server: server, secret: "not-the-secret")
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 2, "\(backup.output)")
        let outcomes = try #require(try backupJSON(backup)["stores"] as? [[String: Any]])
        let error = try #require(outcomes[1]["error"] as? String)
        #expect(error.contains("AADSTS7000215") && error.contains("client_secret"), "\(error)")
        #expect(!backup.output.contains("not-the-secret"))
        #expect(try server.log().filter { $0.kind == "token" }.count == 1)
    }
}
