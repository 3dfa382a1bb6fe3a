import Foundation
import LifeboatCore
import LifeboatSSH
import Testing

/// Connection, host key and login against the real sshd of `packaging/test-servers.sh`.
@Suite struct SSHSessionTests {
    @Test(arguments: ["SSH_KEY_ED25519", "SSH_KEY_RSA", "SSH_KEY_ECDSA"])
    func logsInWithEachKeyType(keyName: String) throws {
        let servers = try TestServers.load()
        let configuration = try SSHTestSupport.configuration(
            servers, authentication: .privateKey(path: servers[keyName], passphrase: nil))
        let client = try SFTPClient(configuration: configuration)
        #expect(client.session.isConnected)
        #expect(try client.realPath(".") == servers["SSH_HOME"])
    }

    @Test func logsInWithAnEncryptedKeyAndItsPassphrase() throws {
        let servers = try TestServers.load()
        let passphrase = Secret(try servers.contents(ofFileIn: "SSH_KEY_PASSPHRASE_FILE"))
        let configuration = try SSHTestSupport.configuration(
            servers, authentication: .privateKey(path: servers["SSH_KEY_ENCRYPTED"], passphrase: passphrase))
        let client = try SFTPClient(configuration: configuration)
        #expect(try client.realPath(".") == servers["SSH_HOME"])
    }

    @Test func anEncryptedKeyWithAWrongOrMissingPassphraseIsRefused() throws {
        let servers = try TestServers.load()
        for passphrase in [Secret("not-the-passphrase-42"), nil] {
            let configuration = try SSHTestSupport.configuration(
                servers, authentication: .privateKey(path: servers["SSH_KEY_ENCRYPTED"], passphrase: passphrase))
            let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
            #expect(error.kind == .authentication)
            #expect(!error.isRetryable)
            #expect(error.message.contains(try servers["SSH_KEY_ENCRYPTED"]))
            #expect(error.message.contains("passphrase"))
            #expect(!error.message.contains("not-the-passphrase-42"))
        }
    }

    @Test func logsInWithThePassword() throws {
        let servers = try TestServers.load()
        let password = Secret(try servers.contents(ofFileIn: "SSH_PASSWORD_FILE"))
        let client = try SFTPClient(
            configuration: SSHTestSupport.configuration(servers, authentication: .password(password)))
        #expect(try client.realPath(".") == servers["SSH_HOME"])
    }

    @Test func aWrongPasswordIsRefusedWithoutShowingIt() throws {
        let servers = try TestServers.load()
        let configuration = try SSHTestSupport.configuration(
            servers, authentication: .password(Secret("wrong-password-7d3f")))
        let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
        #expect(error.kind == .authentication)
        #expect(!error.isRetryable)
        #expect(error.message.contains("refused the login"))
        #expect(!error.message.contains("wrong-password-7d3f"))
        #expect(!"\(error)".contains("wrong-password-7d3f"))
    }

    @Test func aKeyTheServerDoesNotKnowIsRefused() throws {
        let servers = try TestServers.load()
        let configuration = try SSHTestSupport.configuration(
            servers, authentication: .privateKey(path: servers["SSH_KEY_UNAUTHORIZED"], passphrase: nil))
        let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
        #expect(error.kind == .authentication)
        #expect(error.message.contains(try servers["SSH_KEY_UNAUTHORIZED"]))
    }

    @Test func aMissingKeyFileIsAClearError() throws {
        let servers = try TestServers.load()
        let configuration = try SSHTestSupport.configuration(
            servers, authentication: .privateKey(path: "/nonexistent/lifeboat-key", passphrase: nil))
        let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
        #expect(error.kind == .authentication)
        #expect(error.message.contains("/nonexistent/lifeboat-key"))
    }

    /// An empty known_hosts file, a missing one and a changed key are all refused, and the message
    /// shows the key the server offered as OpenSSH would print it.
    @Test(arguments: [
        ("SSH_KNOWN_HOSTS_EMPTY", SSHError.Kind.hostKeyUnknown),
        ("SSH_KNOWN_HOSTS_CHANGED", SSHError.Kind.hostKeyChanged),
        ("", SSHError.Kind.hostKeyUnknown),
    ])
    func unknownOrChangedHostKeysAreRefused(knownHostsKey: String, kind: SSHError.Kind) throws {
        let servers = try TestServers.load()
        var configuration = try SSHTestSupport.configuration(servers)
        configuration.knownHostsFile =
            knownHostsKey.isEmpty ? servers.directory + "/no-such-known-hosts" : try servers[knownHostsKey]
        let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
        #expect(error.kind == kind)
        #expect(!error.isRetryable)
        let port = try servers["SSHD_PORT"]
        #expect(error.message.contains("127.0.0.1:\(port)"))
        #expect(error.message.contains("SHA256:"))
        let offered = try #require(error.offeredHostKey)
        #expect(error.message.contains(offered.fingerprint))
        #expect(error.message.contains(offered.type))
        let fingerprints = try SSHTestSupport.hostKeyFingerprints(servers)
        #expect(fingerprints.count == 3)
        #expect(fingerprints.contains(offered.fingerprint), "offered \(offered), server has \(fingerprints)")
    }

    @Test func theOfferedHostKeyIsOneOfTheServersKeys() throws {
        let servers = try TestServers.load()
        let session = try SSHSession(configuration: SSHTestSupport.configuration(servers))
        let key = try #require(session.hostKey)
        #expect(try SSHTestSupport.hostKeyFingerprints(servers).contains(key.fingerprint))
        #expect(!key.fingerprint.hasSuffix("="), "unpadded base64, like OpenSSH")
    }

    @Test func aClosedPortIsARetryableConnectionError() throws {
        let servers = try TestServers.load()
        var configuration = try SSHTestSupport.configuration(servers)
        configuration.port = try TestServers.closedPort()
        let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
        #expect(error.kind == .connection)
        #expect(error.isRetryable)
        #expect(error.message.contains("127.0.0.1:\(configuration.port)"))
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        let servers = try TestServers.load()
        let silent = try ListeningSocket()
        var configuration = try SSHTestSupport.configuration(servers, connectTimeout: 1)
        configuration.port = silent.port
        let started = ContinuousClock.now
        let error = try #require(throws: SSHError.self) { try SSHSession(configuration: configuration) }
        let elapsed = ContinuousClock.now - started
        #expect(error.kind == .connection)
        #expect(elapsed < .seconds(8), "took \(elapsed)")
    }
}
