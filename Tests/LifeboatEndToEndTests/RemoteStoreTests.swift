import Foundation
import Testing

/// `lifeboat backup` to an FTPS and an SFTP store on the servers of `packaging/test-servers.sh`,
/// then independent clients (curl, OpenSSH's sftp) fetch the archive and stock `age` and `tar`
/// restore it.
@Suite struct RemoteStoreTests {
    let servers: TestServers
    let folder = "e2e-" + UUID().uuidString.prefix(8).lowercased()

    init() throws {
        servers = try TestServers.load()
    }

    /// Adds the two remote stores to the demo configuration and makes the job use them.
    func addRemoteStores(to f: DemoFixture, knownHosts: String = "SSH_KNOWN_HOSTS") throws {
        let stores = """
            stores:
              - {name: ftps, kind: ftp, url: "ftp://127.0.0.1:\(try servers["PROFTPD_EXPLICIT_PORT"])/\(folder)",
                 username: pbxtest, password: {secret_file: \(try servers["FTP_PASSWORD_FILE"])},
                 ca_file: \(try servers["TLS_CA_FILE"])}
              - {name: sftp, kind: sftp, host: 127.0.0.1, port: \(try servers["SSHD_PORT"]), username: pbxtest,
                 path: \(folder), private_key_file: \(try servers["SSH_KEY_ED25519"]),
                 known_hosts_file: \(try servers[knownHosts])}

            """
        try f.editConfig {
            $0.replacingOccurrences(of: "stores:\n", with: stores)
                .replacingOccurrences(of: "stores: [local]}", with: "stores: [local, ftps, sftp]}")
        }
    }

    func cleanUp() {
        for key in ["PROFTPD_ROOT", "SSH_HOME"] {
            if let root = try? servers[key] { try? FileManager.default.removeItem(atPath: root + "/" + folder) }
        }
    }

    @Test func backupToFTPSAndSFTPOpensWithStockClientsAndTools() throws {
        defer { cleanUp() }
        let f = try DemoFixture()
        try addRemoteStores(to: f)
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 0, "\(backup.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let archive = try #require(json["archive"] as? String)
        let stores = try #require(json["stores"] as? [[String: Any]])
        #expect(stores.map { $0["ok"] as? Bool } == [true, true, true])
        #expect(stores[1]["verification"] as? String == "size via SIZE, sha256 via HASH")
        #expect(stores[2]["verification"] as? String == "size via stat")

        // FTPS, fetched by curl with the CA, no -k.
        let password = try servers.contents(ofFileIn: "FTP_PASSWORD_FILE")
        let viaCurl = f.dir + "/via-curl"
        try FileManager.default.createDirectory(atPath: viaCurl, withIntermediateDirectories: true)
        let curl = try Harness.shell(
            "curl -sS --ssl-reqd --cacert '\(try servers["TLS_CA_FILE"])' --netrc-file /dev/stdin "
                + "'ftp://127.0.0.1:\(try servers["PROFTPD_EXPLICIT_PORT"])/\(folder)/\(archive)' -o '\(viaCurl)/a.age' "
                + "<<< 'machine 127.0.0.1 login pbxtest password \(password)' "
                + "&& age -d -i '\(f.key)' '\(viaCurl)/a.age' | tar --zstd -xf - -C '\(viaCurl)' "
                + "&& cd '\(viaCurl)' && sha256sum -c --quiet lifeboat/SHA256SUMS")
        #expect(curl.status == 0, "\(curl.output)")

        // SFTP, fetched by OpenSSH's sftp with strict host key checking.
        let viaSFTP = f.dir + "/via-sftp"
        try FileManager.default.createDirectory(atPath: viaSFTP, withIntermediateDirectories: true)
        let sftp = try Harness.shell(
            "echo 'get \(folder)/\(archive) \(viaSFTP)/a.age' | sftp -q -P \(try servers["SSHD_PORT"]) "
                + "-o StrictHostKeyChecking=yes -o UserKnownHostsFile='\(try servers["SSH_KNOWN_HOSTS"])' "
                + "-o IdentitiesOnly=yes -i '\(try servers["SSH_KEY_ED25519"])' -b - pbxtest@127.0.0.1 "
                + "&& age -d -i '\(f.key)' '\(viaSFTP)/a.age' | tar --zstd -xf - -C '\(viaSFTP)' "
                + "&& cd '\(viaSFTP)' && sha256sum -c --quiet lifeboat/SHA256SUMS")
        #expect(sftp.status == 0, "\(sftp.output)")

        // Lifeboat itself lists, verifies and restores from each remote store.
        for store in ["ftps", "sftp"] {
            let list = try f.lifeboat("snapshots", "--store", store, "--json")
            #expect(list.status == 0 && list.stdout.contains(json["snapshot"] as! String), "\(list.output)")
            let verify = try f.lifeboat("verify", "--latest", "--store", store, "--deep", "--identity", f.key)
            #expect(verify.status == 0, "\(verify.output)")
            let target = f.dir + "/restore-" + store
            let restore = try f.lifeboat(
                "restore", "--latest", "--store", store, "--identity", f.key, "--target", target)
            #expect(restore.status == 0, "\(restore.output)")
            #expect(fileExists(target + "/lifeboat/manifest.json"))
        }
        // No upload leftovers on either server.
        let onFTP = try Harness.shell("find '\(try servers["PROFTPD_ROOT"])/\(folder)' -name '*.partial'")
        let onSFTP = try Harness.shell("find '\(try servers["SSH_HOME"])/\(folder)' -name '*.partial'")
        #expect(onFTP.stdout.isEmpty && onSFTP.stdout.isEmpty)
    }

    @Test func aChangedHostKeyFailsThatStoreAndNamesTheFingerprint() throws {
        defer { cleanUp() }
        let f = try DemoFixture()
        try addRemoteStores(to: f, knownHosts: "SSH_KNOWN_HOSTS_CHANGED")
        let backup = try f.lifeboat("backup", "--json")
        #expect(backup.status == 2, "\(backup.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let stores = try #require(json["stores"] as? [[String: Any]])
        #expect(stores.map { $0["ok"] as? Bool } == [true, true, false])
        let error = try #require(stores[2]["error"] as? String)
        #expect(error.contains("sftp store 'sftp'") && error.contains("SHA256:"), "\(error)")
        #expect(!error.contains("pbxtest-pass"))
    }

    @Test func plainFTPWithoutAllowInsecureIsAConfigurationError() throws {
        let f = try DemoFixture()
        try f.editConfig {
            $0.replacingOccurrences(
                of: "stores:\n",
                with: "stores:\n  - {name: ftp, kind: ftp, url: \"ftp://127.0.0.1/x\", tls: none, username: u, password: {secret_env: X}}\n"
            )
        }
        let check = try f.lifeboat("config", "check")
        #expect(check.status == 64)
        #expect(check.stderr.contains("stores[0].tls"), "\(check.output)")
        #expect(check.stderr.contains("allow_insecure"))
    }
}
