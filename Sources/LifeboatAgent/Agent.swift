import Foundation
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto
import LifeboatStores
import Logging

/// The composition root: turns configuration into stores, plans and identities.
public struct Agent: Sendable {
    public static let version = "0.1.0"

    public let configuration: Configuration
    public let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The only place that knows concrete store backends.
    /// A configured `prefix` is applied by `PrefixedStore`, so names below it are the same on every store.
    public func makeStore(_ store: StoreConfiguration) throws -> any Store {
        let base: any Store =
            switch store.kind {
            case .local(let path): LocalStore(name: store.name, root: path)
            case .ftp(let configuration, let allowInsecure):
                RetryingStore(
                    try FTPStore(name: store.name, configuration: configuration, allowInsecure: allowInsecure),
                    logger: logger)
            case .sftp(let configuration):
                RetryingStore(SFTPStore(name: store.name, configuration: configuration), logger: logger)
            case .s3(let configuration):
                RetryingStore(try S3Store(name: store.name, configuration: configuration, logger: logger), logger: logger)
            case .gcs(let configuration):
                RetryingStore(try GCSStore(name: store.name, configuration: configuration, logger: logger), logger: logger)
            case .sharepoint(let configuration):
                RetryingStore(try makeSharePointStore(name: store.name, configuration), logger: logger)
            }
        return store.prefix.isEmpty ? base : PrefixedStore(base, prefix: store.prefix)
    }

    /// A SharePoint store that spools its large uploads under `state_dir`.
    private func makeSharePointStore(name: String, _ configuration: SharePointStoreConfiguration) throws
        -> SharePointStore
    {
        var configuration = configuration
        configuration.spoolDirectory = self.configuration.stateDirectory + "/spool"
        return try SharePointStore(name: name, configuration: configuration, logger: logger)
    }

    /// The stores a command works on: all, or the one named.
    public func selectStores(_ name: String?) throws -> [StoreConfiguration] {
        guard let name else { return configuration.stores }
        guard let store = configuration.store(named: name) else {
            throw CommandError(
                .usage,
                "no store named '\(name)' (configured: \(configuration.stores.map(\.name).joined(separator: ", ")))")
        }
        return [store]
    }

    /// The job a command works on: the one named, or the only one.
    public func selectJob(_ name: String?) throws -> JobConfiguration {
        if let name {
            guard let job = configuration.job(named: name) else {
                throw CommandError(
                    .usage, "no job named '\(name)' (configured: \(configuration.jobs.map(\.name).joined(separator: ", ")))")
            }
            return job
        }
        guard !configuration.jobs.isEmpty else {
            throw CommandError(.usage, "no job is configured in \(configuration.file)")
        }
        guard configuration.jobs.count == 1 else {
            throw CommandError(
                .usage, "several jobs are configured; name one with --job (\(configuration.jobs.map(\.name).joined(separator: ", ")))")
        }
        return configuration.jobs[0]
    }

    /// Identities for decryption: `identityFile` if given, else `encryption.identity_file`, else the passphrase.
    public func identities(identityFile: String?) throws -> [AgeIdentity] {
        if let identityFile { return try Self.loadIdentities(identityFile) }
        var result: [AgeIdentity] = []
        if let file = configuration.encryption?.identityFile {
            do {
                result += try Self.loadIdentities(file)
            } catch let error as CommandError {
                throw ConfigurationError(
                    file: configuration.file, keyPath: "encryption.identity_file",
                    line: configuration.encryption?.identityFileLine, message: error.message)
            }
        }
        if let passphrase = configuration.encryption?.passphrase {
            result.append(.scrypt(passphrase: passphrase.reveal(), maxWorkFactor: 22))
        }
        return result
    }

    /// Reads an age identity file, refusing one that others may read.
    public static func loadIdentities(_ path: String) throws -> [AgeIdentity] {
        let text: String
        do {
            text = try SecretFile.read(path) { message in
                ConfigurationError(file: path, keyPath: "", line: nil, message: message)
            }
        } catch let error as ConfigurationError {
            throw CommandError(.usage, "identity file \(error.message)")
        }
        do {
            return try AgeKeyFile.parseIdentities(text).map { .x25519($0) }
        } catch {
            throw CommandError(.usage, "identity file \(path): \(error)")
        }
    }

    /// The running firmware version, from `pbx.firmware_version_file` or `pbx.firmware_version_command`.
    public func firmwareVersion() -> String? {
        let pbx = configuration.pbx
        if let file = pbx.firmwareVersionFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                logger.warning("Firmware version file unreadable", metadata: ["path": "\(file)"])
                return nil
            }
            return text.split(whereSeparator: \.isNewline).first.map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        }
        if let command = pbx.firmwareVersionCommand {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                guard process.terminationStatus == 0 else {
                    logger.warning("Firmware version command failed", metadata: ["status": "\(process.terminationStatus)"])
                    return nil
                }
                return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
            } catch {
                logger.warning("Firmware version command failed", metadata: ["error": "\(error)"])
                return nil
            }
        }
        return nil
    }

    /// The backup plan of a job.
    public func plan(for job: JobConfiguration) -> BackupPlan {
        let sources = job.sources.compactMap { name in configuration.sources.first { $0.name == name } }
        return BackupPlan(
            job: job.name, host: configuration.host, sources: sources,
            recipients: configuration.encryption?.ageRecipients, compression: configuration.compression,
            pbx: Manifest.PBXInfo(product: configuration.pbx.product, firmwareVersion: firmwareVersion()),
            naming: ObjectNaming(prefix: ""), stagingDirectory: configuration.stateDirectory + "/staging/" + job.name,
            agentVersion: Self.version)
    }
}
