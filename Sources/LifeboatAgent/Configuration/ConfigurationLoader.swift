#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatArchive
import LifeboatBackup
import LifeboatCore
import LifeboatCrypto
import LifeboatSchedule
import LifeboatStores
import Yams

/// Turns YAML into a validated `Configuration`, naming file, key path and line in every error.
struct ConfigurationLoader {
    let file: String
    let environment: [String: String]
    let fileReadableByOthers: Bool

    static let topLevelKeys = [
        "host", "state_dir", "pbx", "encryption", "compression", "sources", "stores", "jobs", "api", "shutdown_grace",
        "notifications", "firmware",
    ]

    func load(_ text: String) throws -> Configuration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationError(file: file, keyPath: "", line: nil, message: "the file is empty")
            }
            root = node
        } catch let error as YamlError {
            throw describe(error)
        }
        let top = try ConfigNode(node: root, path: "", file: file).mapping(allowed: Self.topLevelKeys)

        let host = try top["host"]?.nonEmptyString() ?? Self.hostname()
        try checkName(host, top["host"])
        let stateDirectory = try top["state_dir"]?.nonEmptyString() ?? "/var/lib/lifeboat"
        let pbx = try top["pbx"].map(parsePBX) ?? PBXConfiguration()

        var compression: ArchiveCompression?
        var encryption: EncryptionConfiguration?
        if let node = top["encryption"] {
            (encryption, compression) = try parseEncryption(node)
        } else {
            throw ConfigurationError(
                file: file, keyPath: "encryption", line: nil,
                message: "missing: give recipients (age1…) or write 'encryption: none' to store archives unencrypted")
        }
        if let node = top["compression"] {
            guard compression == nil else { throw node.error("compression is already set under encryption") }
            compression = try parseCompression(node)
        }

        let sourceNodes = try top["sources"]?.list() ?? []
        var sources: [SourceSpec] = []
        var sourceRestoreHooks: [String: RestoreHooks] = [:]
        for node in sourceNodes {
            let source = try parseSource(node)
            if sources.contains(where: { $0.name == source.name }) {
                throw node.error("a source named '\(source.name)' is defined twice")
            }
            sources.append(source)
            let hooks = try parseRestoreHooks(try node.mapping(allowed: Self.sourceKeys))
            if !hooks.isEmpty { sourceRestoreHooks[source.name] = hooks }
        }
        var stores: [StoreConfiguration] = []
        for node in try top["stores"]?.list() ?? [] {
            let store = try parseStore(node)
            if stores.contains(where: { $0.name == store.name }) {
                throw node.error("a store named '\(store.name)' is defined twice")
            }
            stores.append(store)
        }
        var jobs: [JobConfiguration] = []
        for node in try top["jobs"]?.list() ?? [] {
            let job = try parseJob(node, sources: sources, stores: stores)
            if jobs.contains(where: { $0.name == job.name }) {
                throw node.error("a job named '\(job.name)' is defined twice")
            }
            jobs.append(job)
        }
        // A configuration without jobs (a new machine that only restores, lists and verifies) has no sources.
        if jobs.isEmpty && (!sources.isEmpty || top["jobs"] != nil) {
            throw ConfigurationError(file: file, keyPath: "jobs", line: top["jobs"]?.line, message: "no job is defined")
        }
        var shutdownGrace: Int64 = 60
        if let node = top["shutdown_grace"] {
            guard let seconds = DurationText.seconds(try node.string()), seconds <= 86_400 else {
                throw node.error("expected a duration such as 60s or 5m (at most 24h)")
            }
            shutdownGrace = seconds
        }
        var configuration = Configuration(
            file: file, host: host, stateDirectory: stateDirectory, pbx: pbx, encryption: encryption,
            compression: compression ?? ArchiveCompression(algorithm: .zstd, level: 3), sources: sources, stores: stores,
            jobs: jobs, api: try top["api"].map(parseAPI), shutdownGrace: shutdownGrace,
            notifications: try top["notifications"].map { try parseNotifications($0, host: host) },
            firmware: try top["firmware"].map { try parseFirmware($0, pbx: pbx, jobs: jobs) })
        configuration.sourceRestoreHooks = sourceRestoreHooks
        return configuration
    }

    // MARK: Sections

    private func parsePBX(_ node: ConfigNode) throws -> PBXConfiguration {
        let keys = try node.mapping(allowed: ["product", "firmware_version_file", "firmware_version_command"])
        if keys["firmware_version_file"] != nil && keys["firmware_version_command"] != nil {
            throw node.error("give firmware_version_file or firmware_version_command, not both")
        }
        let command = try keys["firmware_version_command"]?.stringList()
        if let command, command.isEmpty {
            throw keys["firmware_version_command"]!.error("the command must have at least a program")
        }
        return PBXConfiguration(
            product: try keys["product"]?.nonEmptyString(),
            firmwareVersionFile: try keys["firmware_version_file"]?.nonEmptyString(),
            firmwareVersionCommand: command)
    }

    private func parseEncryption(_ node: ConfigNode) throws -> (EncryptionConfiguration?, ArchiveCompression?) {
        if case .scalar = node.node {
            guard try node.string() == "none" else {
                throw node.error("expected 'none' or a mapping with recipients")
            }
            return (nil, nil)
        }
        let keys = try node.mapping(allowed: [
            "recipients", "recipients_file", "passphrase", "scrypt_work_factor", "identity_file", "compression",
        ])
        var recipients: [AgeX25519Recipient] = []
        if let list = keys["recipients"] {
            for item in try list.list() {
                do {
                    recipients.append(try AgeX25519Recipient(parsing: try item.string().trimmingCharacters(in: .whitespaces)))
                } catch {
                    throw item.error("not an age X25519 recipient (age1…): \(error)")
                }
            }
        }
        if let fileNode = keys["recipients_file"] {
            let path = try fileNode.nonEmptyString()
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw fileNode.error("cannot read \(path)")
            }
            do {
                recipients += try AgeKeyFile.parseRecipients(text)
            } catch {
                throw fileNode.error("\(path): \(error)")
            }
        }
        let passphrase = try keys["passphrase"].map(parseSecret)
        if let passphrase, passphrase.reveal().isEmpty {
            throw keys["passphrase"]!.error("the passphrase is empty")
        }
        if passphrase != nil && !recipients.isEmpty {
            throw node.error(
                "age allows a passphrase only as the sole recipient: use recipients or passphrase, not both")
        }
        // A machine that only restores (a new PBX on the day of a disaster) may name just its key: the
        // key's own public half is then the recipient of anything it backs up.
        if passphrase == nil, recipients.isEmpty, let idNode = keys["identity_file"] {
            let path = try idNode.nonEmptyString()
            let text = try SecretFile.read(path, describe: { idNode.error($0) })
            do {
                recipients = try AgeKeyFile.parseIdentities(text).map(\.recipient)
            } catch {
                throw idNode.error("\(path): \(error)")
            }
        }
        guard passphrase != nil || !recipients.isEmpty else {
            throw node.error("no recipient: give recipients (age1…), recipients_file, passphrase or identity_file")
        }
        let workFactor = try keys["scrypt_work_factor"]?.int(min: 10, max: 22) ?? 18
        var identityFile: String?
        if let idNode = keys["identity_file"] {
            identityFile = try idNode.nonEmptyString()
        }
        let compression = try keys["compression"].map(parseCompression)
        return (
            EncryptionConfiguration(
                recipients: recipients, passphrase: passphrase, scryptWorkFactor: workFactor,
                identityFile: identityFile, identityFileLine: keys["identity_file"]?.line),
            compression
        )
    }

    private func parseCompression(_ node: ConfigNode) throws -> ArchiveCompression {
        let keys = try node.mapping(allowed: ["algorithm", "level", "threads"])
        var compression = ArchiveCompression(algorithm: .zstd, level: 3)
        if let a = keys["algorithm"] {
            let text = try a.string()
            guard let algorithm = ArchiveCompression.Algorithm(rawValue: text) else {
                throw a.error("unknown algorithm '\(text)'; use zstd, gzip, xz or none")
            }
            compression.algorithm = algorithm
            compression.level = nil
        }
        if let l = keys["level"] {
            let range: ClosedRange<Int> =
                switch compression.algorithm {
                case .zstd: 1...19
                case .gzip: 1...9
                case .xz: 0...9
                case .none: 0...0
                }
            compression.level = try l.int(min: range.lowerBound, max: range.upperBound)
        } else if compression.algorithm == .zstd {
            compression.level = 3
        }
        if let t = keys["threads"] { compression.threads = try t.int(min: 1, max: 256) }
        return compression
    }

    /// Every key a source may have; which of them a kind takes is checked per kind.
    static let sourceKeys = [
        "name", "kind", "path", "paths", "include", "exclude", "database", "defaults_file", "databases", "tables",
        "exclude_tables", "dump_command", "pre_restore", "post_restore",
    ]
    /// The keys of every source kind: the hooks around an in-place restore of its component.
    static let sourceHookKeys = ["pre_restore", "post_restore"]

    private func parseSource(_ node: ConfigNode) throws -> SourceSpec {
        guard case .mapping = node.node else { throw node.error("expected a mapping with name and kind") }
        let peek = try node.mapping(allowed: Self.sourceKeys)
        guard let nameNode = peek["name"] else { throw node.error("missing key 'name'") }
        let name = try nameNode.nonEmptyString()
        try checkName(name, nameNode)
        guard let kindNode = peek["kind"] else { throw node.error("missing key 'kind'") }
        let kind = try kindNode.string()
        switch kind {
        case "sqlite":
            let keys = try node.mapping(allowed: ["name", "kind", "path"] + Self.sourceHookKeys)
            guard let path = keys["path"] else { throw node.error("missing key 'path'") }
            let p = try path.nonEmptyString()
            guard p.hasPrefix("/") else { throw path.error("must be an absolute path") }
            return SourceSpec(name: name, kind: .sqlite(path: p))
        case "files":
            let keys = try node.mapping(
                allowed: ["name", "kind", "path", "paths", "include", "exclude"] + Self.sourceHookKeys)
            var paths: [String] = []
            if let p = keys["path"] { paths.append(try p.nonEmptyString()) }
            if let p = keys["paths"] { paths += try p.stringList() }
            guard !paths.isEmpty else { throw node.error("missing key 'path' (or 'paths')") }
            for p in paths where !p.hasPrefix("/") {
                throw (keys["path"] ?? keys["paths"]!).error("'\(p)' must be an absolute path")
            }
            return SourceSpec(
                name: name,
                kind: .files(
                    paths: paths, include: try keys["include"]?.stringList() ?? [],
                    exclude: try keys["exclude"]?.stringList() ?? []))
        case "mariadb", "mysql":
            let keys = try node.mapping(
                allowed: [
                    "name", "kind", "database", "databases", "tables", "exclude_tables", "defaults_file", "dump_command",
                ] + Self.sourceHookKeys)
            var databases: [String] = []
            switch (keys["database"], keys["databases"]) {
            case (let one?, nil): databases = [try one.nonEmptyString()]
            case (nil, let list?): databases = try list.stringList()
            case (_?, let list?): throw list.error("give database or databases, not both")
            case (nil, nil): throw node.error("missing key 'database' (or 'databases')")
            }
            var defaultsFile: String?
            if let d = keys["defaults_file"] {
                // It holds the database password: private, like any secret file.
                let path = try readableFile(d)
                _ = try SecretFile.read(path, describe: { d.error($0) })
                defaultsFile = path
            }
            let dumpCommand = try keys["dump_command"].map { try readableFile($0) }
            let tables = try keys["tables"]?.stringList() ?? []
            let excludeTables = try keys["exclude_tables"]?.stringList() ?? []
            do throws(BackupError) {
                return SourceSpec(
                    name: name,
                    kind: .mariadb(
                        try MariaDBDumpOptions(
                            flavour: kind == "mysql" ? .mysql : .mariadb, databases: databases, tables: tables,
                            excludeTables: excludeTables, defaultsFile: defaultsFile, dumpCommand: dumpCommand)))
            } catch {
                let culprit =
                    error.message.contains("table") ? (keys["tables"] ?? keys["exclude_tables"])
                    : (keys["databases"] ?? keys["database"])
                throw (culprit ?? node).error(error.message)
            }
        default:
            throw kindNode.error("unknown source kind '\(kind)'; use sqlite, files, mariadb or mysql")
        }
    }

    private func parseStore(_ node: ConfigNode) throws -> StoreConfiguration {
        guard case .mapping(let m) = node.node else { throw node.error("expected a mapping with name and kind") }
        var kindNode: ConfigNode?
        for (k, v) in m where k.string == "kind" { kindNode = ConfigNode(node: v, path: node.path + ".kind", file: file) }
        guard let kindNode else { throw node.error("missing key 'kind'") }
        let kind = try kindNode.string()
        let common = ["name", "kind", "prefix", "retention"]
        let allowed: [String]
        switch kind {
        case "local": allowed = common + ["path"]
        case "ftp":
            allowed = common + [
                "url", "tls", "allow_insecure", "username", "password", "ca_file", "server_hash", "tls13",
            ]
        case "sftp":
            allowed = common + [
                "host", "port", "username", "path", "password", "private_key_file", "passphrase", "known_hosts_file",
            ]
        case "s3":
            allowed = common + [
                "endpoint", "region", "bucket", "path_style", "access_key_id", "secret_access_key",
                "multipart_threshold", "part_size", "concurrency", "storage_class", "object_lock", "ca_file",
                "allow_insecure",
            ]
        case "gcs":
            allowed = common + ["bucket", "credentials_file", "endpoint", "chunk_size", "ca_file", "allow_insecure"]
        case "sharepoint":
            allowed = common + [
                "tenant_id", "client_id", "client_secret", "client_certificate_file", "client_certificate_key_file",
                "site", "drive_id", "drive_name", "folder", "chunk_size", "graph_url", "login_url", "ca_file",
                "allow_insecure",
            ]
        default: throw kindNode.error("unknown store kind '\(kind)'; use local, ftp, sftp, s3, gcs or sharepoint")
        }
        let keys = try node.mapping(allowed: allowed)
        guard let nameNode = keys["name"] else { throw node.error("missing key 'name'") }
        let name = try nameNode.nonEmptyString()
        try checkName(name, nameNode)
        func required(_ key: String) throws -> ConfigNode {
            guard let value = keys[key] else { throw node.error("missing key '\(key)'") }
            return value
        }
        let storeKind: StoreConfiguration.Kind
        switch kind {
        case "ftp": storeKind = try parseFTPStore(keys, required: required)
        case "sftp": storeKind = try parseSFTPStore(keys, required: required)
        case "s3": storeKind = try parseS3Store(keys, node: node, required: required)
        case "gcs": storeKind = try parseGCSStore(keys, node: node, required: required)
        case "sharepoint": storeKind = try parseSharePointStore(keys, node: node, required: required)
        default:
            let pathNode = try required("path")
            let path = try pathNode.nonEmptyString()
            guard path.hasPrefix("/") else { throw pathNode.error("must be an absolute path") }
            storeKind = .local(path: path)
        }
        let prefix = try keys["prefix"]?.string() ?? ""
        if prefix.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
            throw keys["prefix"]!.error("must not contain '.' or '..'")
        }
        return StoreConfiguration(
            name: name, kind: storeKind, prefix: prefix,
            retention: try keys["retention"].map(parseRetention) ?? RetentionPolicy())
    }

    private func parseFTPStore(_ keys: [String: ConfigNode], required: (String) throws -> ConfigNode) throws
        -> StoreConfiguration.Kind
    {
        let urlNode = try required("url")
        let text = try urlNode.nonEmptyString()
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "ftp" || scheme == "ftps", let host = url.host, !host.isEmpty
        else {
            throw urlNode.error("expected ftp://HOST[:PORT]/FOLDER or ftps://HOST[:PORT]/FOLDER")
        }
        guard url.user == nil, url.password == nil else {
            throw urlNode.error("put the username and password in 'username' and 'password', not in the URL")
        }
        var tls: FTPStoreConfiguration.TLSMode = scheme == "ftps" ? .implicit : .explicit
        if let tlsNode = keys["tls"] {
            let value = try tlsNode.string()
            guard let mode = FTPStoreConfiguration.TLSMode(rawValue: value) else {
                throw tlsNode.error("expected explicit, implicit or none, not '\(value)'")
            }
            if scheme == "ftps" && mode != .implicit {
                throw tlsNode.error("an ftps:// URL means implicit TLS; use ftp:// for '\(value)'")
            }
            tls = mode
        }
        let allowInsecure = try keys["allow_insecure"]?.bool() ?? false
        if tls == .none && !allowInsecure {
            throw (keys["tls"] ?? urlNode).error(
                "plain FTP sends the password and the archives in clear text; set allow_insecure: true to accept that")
        }
        let caFile = try keys["ca_file"].map { try readableFile($0) }
        let configuration = FTPStoreConfiguration(
            host: host, port: url.port, path: url.percentEncodedPath.removingPercentEncoding ?? url.path, tls: tls,
            username: try required("username").nonEmptyString(), password: try parseSecret(required("password")),
            caFile: caFile, serverHash: try keys["server_hash"]?.bool() ?? true, tls13: try keys["tls13"]?.bool() ?? false)
        return .ftp(configuration, allowInsecure: allowInsecure)
    }

    private func parseSFTPStore(_ keys: [String: ConfigNode], required: (String) throws -> ConfigNode) throws
        -> StoreConfiguration.Kind
    {
        let authentication: SFTPStoreConfiguration.Authentication
        switch (keys["password"], keys["private_key_file"]) {
        case (let password?, nil):
            if let p = keys["passphrase"] { throw p.error("passphrase belongs to private_key_file") }
            authentication = .password(try parseSecret(password))
        case (nil, let keyNode?):
            let path = try readableFile(keyNode)
            _ = try SecretFile.read(path, describe: { keyNode.error($0) })  // private, like a password file
            authentication = .privateKey(path: path, passphrase: try keys["passphrase"].map(parseSecret))
        case (_?, let keyNode?):
            throw keyNode.error("give either password or private_key_file, not both")
        case (nil, nil):
            throw try required("private_key_file").error("missing key 'private_key_file' or 'password'")
        }
        let configuration = SFTPStoreConfiguration(
            host: try required("host").nonEmptyString(), port: try keys["port"]?.int(min: 1, max: 65535) ?? 22,
            username: try required("username").nonEmptyString(), path: try keys["path"]?.string() ?? "",
            authentication: authentication, knownHostsFile: try readableFile(required("known_hosts_file")))
        return .sftp(configuration)
    }

    private func parseS3Store(
        _ keys: [String: ConfigNode], node: ConfigNode, required: (String) throws -> ConfigNode
    ) throws -> StoreConfiguration.Kind {
        let endpointNode = try required("endpoint")
        let endpointText = try endpointNode.nonEmptyString()
        guard let endpoint = URL(string: endpointText), let scheme = endpoint.scheme?.lowercased(),
            scheme == "https" || scheme == "http", endpoint.host?.isEmpty == false
        else {
            throw endpointNode.error("expected https://HOST[:PORT], e.g. https://s3.eu-central-1.amazonaws.com")
        }
        guard endpoint.user == nil, endpoint.password == nil, endpoint.query == nil else {
            throw endpointNode.error("the endpoint is scheme, host and port only; credentials go in access_key_id and secret_access_key")
        }
        if scheme == "http", try keys["allow_insecure"]?.bool() != true {
            throw endpointNode.error(
                "plain http exposes the access key id and the archives' metadata on the network; use https, or set allow_insecure: true")
        }
        var objectLock: S3StoreConfiguration.ObjectLock?
        if let lockNode = keys["object_lock"] {
            let lock = try lockNode.mapping(allowed: ["mode", "days"])
            guard let modeNode = lock["mode"] else { throw lockNode.error("missing key 'mode'") }
            let modeText = try modeNode.string()
            guard let mode = S3StoreConfiguration.ObjectLock.Mode(rawValue: modeText.uppercased()) else {
                throw modeNode.error("expected governance or compliance, not '\(modeText)'")
            }
            guard let daysNode = lock["days"] else { throw lockNode.error("missing key 'days'") }
            objectLock = .init(mode: mode, days: try daysNode.int(min: 1, max: 36_500))
        }
        let partSize = try keys["part_size"]?.byteSize(min: S3StoreConfiguration.minimumPartSize, max: 5 << 30) ?? 16 << 20
        let configuration = S3StoreConfiguration(
            endpoint: endpoint, region: try keys["region"]?.nonEmptyString() ?? "us-east-1",
            bucket: try required("bucket").nonEmptyString(), pathStyle: try keys["path_style"]?.bool() ?? false,
            accessKeyID: try parseIdentifier(required("access_key_id")),
            secretAccessKey: try parseSecret(required("secret_access_key")),
            multipartThreshold: try keys["multipart_threshold"]?.byteSize(min: 1, max: 5 << 30) ?? 64 << 20,
            partSize: partSize, concurrency: try keys["concurrency"]?.int(min: 1, max: 64) ?? 4,
            storageClass: try keys["storage_class"]?.nonEmptyString(), objectLock: objectLock,
            caFile: try keys["ca_file"].map { try readableFile($0) })
        if let problem = configuration.problem { throw node.error(problem) }
        return .s3(configuration)
    }

    private func parseGCSStore(
        _ keys: [String: ConfigNode], node: ConfigNode, required: (String) throws -> ConfigNode
    ) throws -> StoreConfiguration.Kind {
        let credentialsNode = try required("credentials_file")
        let credentialsFile = try readableFile(credentialsNode)
        let account: GCSServiceAccount
        do {
            account = try GCSServiceAccount.load(file: credentialsFile)
        } catch let error as StoreError {
            throw credentialsNode.error(error.message)
        }
        var endpoint = GCSStoreConfiguration.defaultEndpoint
        if let endpointNode = keys["endpoint"] {
            let text = try endpointNode.nonEmptyString()
            guard let url = URL(string: text), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw endpointNode.error("expected https://HOST[:PORT], e.g. https://storage.googleapis.com")
            }
            endpoint = url
        }
        let allowInsecure = try keys["allow_insecure"]?.bool() ?? false
        let configuration = GCSStoreConfiguration(
            bucket: try required("bucket").nonEmptyString(), endpoint: endpoint, credentials: account,
            chunkSize: try keys["chunk_size"]?.byteSize(min: GCSStoreConfiguration.chunkGranularity, max: 1 << 30)
                ?? GCSStoreConfiguration.defaultChunkSize,
            caFile: try keys["ca_file"].map { try readableFile($0) }, allowInsecure: allowInsecure)
        if let problem = configuration.problem {
            let culprit = problem.contains("chunk") ? keys["chunk_size"] : problem.contains("token") ? credentialsNode : keys["endpoint"]
            throw (culprit ?? node).error(problem)
        }
        return .gcs(configuration)
    }

    private func parseSharePointStore(
        _ keys: [String: ConfigNode], node: ConfigNode, required: (String) throws -> ConfigNode
    ) throws -> StoreConfiguration.Kind {
        let credential: SharePointStoreConfiguration.Credential
        switch (keys["client_secret"], keys["client_certificate_file"]) {
        case (let secretNode?, nil):
            if let keyNode = keys["client_certificate_key_file"] {
                throw keyNode.error("client_certificate_key_file belongs to client_certificate_file")
            }
            credential = .secret(try parseSecret(secretNode))
        case (nil, let certificateNode?):
            let certificateFile = try readableFile(certificateNode)
            // The key may be in the certificate file itself.
            let keyNode = keys["client_certificate_key_file"] ?? certificateNode
            let keyFile = try readableFile(keyNode)
            _ = try SecretFile.read(keyFile, describe: { keyNode.error($0) })  // a private key: private
            credential = .certificate(certificateFile: certificateFile, keyFile: keyFile)
        case (_?, let certificateNode?):
            throw certificateNode.error("give either client_secret or client_certificate_file, not both")
        case (nil, nil):
            if let keyNode = keys["client_certificate_key_file"] {
                throw keyNode.error("client_certificate_key_file belongs to client_certificate_file")
            }
            throw node.error("missing key 'client_secret' or 'client_certificate_file'")
        }
        func url(_ key: String, _ standard: URL) throws -> URL {
            guard let urlNode = keys[key] else { return standard }
            let text = try urlNode.nonEmptyString()
            guard let url = URL(string: text), url.scheme == "https" || url.scheme == "http", url.host != nil,
                url.query == nil, url.user == nil
            else {
                throw urlNode.error("expected an https:// URL, e.g. \(standard.absoluteString)")
            }
            return url
        }
        let configuration = SharePointStoreConfiguration(
            tenantID: try parseIdentifier(required("tenant_id")), clientID: try parseIdentifier(required("client_id")),
            credential: credential, site: try required("site").nonEmptyString(),
            driveID: try keys["drive_id"]?.nonEmptyString(), driveName: try keys["drive_name"]?.nonEmptyString(),
            folder: try keys["folder"]?.string() ?? "",
            chunkSize: try keys["chunk_size"]?.byteSize(
                min: SharePointStoreConfiguration.fragmentGranularity, max: SharePointStoreConfiguration.maximumChunkSize)
                ?? SharePointStoreConfiguration.defaultChunkSize,
            graphURL: try url("graph_url", SharePointStoreConfiguration.defaultGraphURL),
            loginURL: try url("login_url", SharePointStoreConfiguration.defaultLoginURL),
            caFile: try keys["ca_file"].map { try readableFile($0) },
            allowInsecure: try keys["allow_insecure"]?.bool() ?? false)
        if let problem = configuration.problem {
            let key =
                ["tenant_id", "client_id", "site", "chunk_size", "graph_url", "login_url", "folder"]
                .first { problem.hasPrefix($0) } ?? (problem.hasPrefix("give drive_id") ? "drive_name" : nil)
            throw (key.flatMap { keys[$0] } ?? node).error(problem)
        }
        return .sharepoint(configuration)
    }

    /// An absolute path to a file that exists.
    func readableFile(_ node: ConfigNode) throws -> String {
        let path = try node.nonEmptyString()
        guard path.hasPrefix("/") else { throw node.error("must be an absolute path") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw node.error("cannot read \(path)")
        }
        return path
    }

    private func parseRetention(_ node: ConfigNode) throws -> RetentionPolicy {
        let keys = try node.mapping(allowed: [
            "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within",
            "max_count", "max_age_days",
        ])
        var policy = RetentionPolicy()
        policy.keepLast = try keys["keep_last"]?.int(min: 1)
        policy.keepHourly = try keys["keep_hourly"]?.int(min: 1)
        policy.keepDaily = try keys["keep_daily"]?.int(min: 1)
        policy.keepWeekly = try keys["keep_weekly"]?.int(min: 1)
        policy.keepMonthly = try keys["keep_monthly"]?.int(min: 1)
        policy.keepYearly = try keys["keep_yearly"]?.int(min: 1)
        policy.maxCount = try keys["max_count"]?.int(min: 1)
        policy.maxAgeDays = try keys["max_age_days"]?.int(min: 1)
        if let w = keys["keep_within"] {
            guard let seconds = DurationText.seconds(try w.string()), seconds > 0 else {
                throw w.error("expected a duration such as 36h, 7d or 2w")
            }
            policy.keepWithin = seconds
        }
        return policy
    }

    private func parseJob(_ node: ConfigNode, sources: [SourceSpec], stores: [StoreConfiguration]) throws
        -> JobConfiguration
    {
        let keys = try node.mapping(allowed: [
            "name", "schedule", "timezone", "sources", "stores", "stale_after", "jitter", "pre_backup", "post_backup",
            "pre_restore", "post_restore", "drill",
        ])
        guard let nameNode = keys["name"] else { throw node.error("missing key 'name'") }
        let name = try nameNode.nonEmptyString()
        try checkName(name, nameNode)
        guard let sourceList = keys["sources"] else { throw node.error("missing key 'sources'") }
        let sourceNames = try sourceList.stringList()
        guard !sourceNames.isEmpty else { throw sourceList.error("a job needs at least one source") }
        for (i, s) in sourceNames.enumerated() where !sources.contains(where: { $0.name == s }) {
            let item = (try? sourceList.list())?[i] ?? sourceList
            throw item.error("no source named '\(s)' (defined: \(sources.map(\.name).joined(separator: ", ")))")
        }
        guard let storeList = keys["stores"] else { throw node.error("missing key 'stores'") }
        let storeNames = try storeList.stringList()
        guard !storeNames.isEmpty else { throw storeList.error("a job needs at least one store") }
        for (i, s) in storeNames.enumerated() where !stores.contains(where: { $0.name == s }) {
            let item = (try? storeList.list())?[i] ?? storeList
            throw item.error("no store named '\(s)' (defined: \(stores.map(\.name).joined(separator: ", ")))")
        }
        var staleAfter: Int64?
        if let s = keys["stale_after"] {
            guard let seconds = DurationText.seconds(try s.string()), seconds > 0 else {
                throw s.error("expected a duration such as 36h")
            }
            staleAfter = seconds
        }
        var timezone: String?
        if let tz = keys["timezone"] {
            let id = try tz.string()
            guard TimeZone(identifier: id) != nil else { throw tz.error("unknown time zone '\(id)'") }
            timezone = id
        }
        var schedule: String?
        if let scheduleNode = keys["schedule"] {
            let text = try scheduleNode.nonEmptyString()
            do {
                _ = try CronExpression(parsing: text)
            } catch {
                throw scheduleNode.error("\(error)")
            }
            schedule = text
        }
        var jitter: Int64 = 0
        if let j = keys["jitter"] {
            guard let seconds = DurationText.seconds(try j.string()) else {
                throw j.error("expected a duration such as 5m")
            }
            guard schedule != nil else { throw j.error("jitter needs a schedule") }
            jitter = seconds
        }
        return JobConfiguration(
            name: name, schedule: schedule, timezone: timezone, sources: sourceNames,
            stores: storeNames, staleAfter: staleAfter, jitter: jitter, drill: try keys["drill"].map(parseDrill),
            preBackup: try keys["pre_backup"].map(parseHooks) ?? [],
            postBackup: try keys["post_backup"].map(parseHooks) ?? [], restoreHooks: try parseRestoreHooks(keys))
    }

    /// `drill: {schedule, timezone, database_defaults_file}`.
    private func parseDrill(_ node: ConfigNode) throws -> DrillConfiguration {
        let keys = try node.mapping(allowed: ["schedule", "timezone", "database_defaults_file"])
        guard let scheduleNode = keys["schedule"] else {
            throw node.error("missing key 'schedule' (e.g. \"0 5 * * sun\")")
        }
        let schedule = try scheduleNode.nonEmptyString()
        do {
            _ = try CronExpression(parsing: schedule)
        } catch {
            throw scheduleNode.error("\(error)")
        }
        var timezone: String?
        if let tz = keys["timezone"] {
            let id = try tz.string()
            guard TimeZone(identifier: id) != nil else { throw tz.error("unknown time zone '\(id)'") }
            timezone = id
        }
        var defaults: String?
        if let d = keys["database_defaults_file"] {
            let path = try readableFile(d)
            _ = try SecretFile.read(path, describe: { d.error($0) })
            defaults = path
        }
        return DrillConfiguration(schedule: schedule, timezone: timezone, databaseDefaultsFile: defaults)
    }

    /// `pre_restore` and `post_restore` of a job or a source.
    private func parseRestoreHooks(_ keys: [String: ConfigNode]) throws -> RestoreHooks {
        RestoreHooks(
            pre: try keys["pre_restore"].map(parseHooks) ?? [], post: try keys["post_restore"].map(parseHooks) ?? [])
    }

    /// A hook key: one command (`[/usr/sbin/fwconsole, stop]` or `{run: [...], timeout: 2m}`), or a list of
    /// such commands, run in order.
    private func parseHooks(_ node: ConfigNode) throws -> [HookCommand] {
        switch node.node {
        case .mapping:
            return [try parseHook(node)]
        case .sequence(let items):
            if items.allSatisfy({ if case .scalar = $0 { true } else { false } }) {
                return items.isEmpty ? [] : [try parseHook(node)]
            }
            return try node.list().map { item in
                if case .scalar = item.node {
                    throw item.error(
                        "a list of commands needs each command as a list or {run: [...], timeout: ...}; one command is a list of words"
                    )
                }
                return try parseHook(item)
            }
        case .scalar, .alias:
            throw node.error(
                "expected an argument vector such as [/usr/sbin/fwconsole, stop] or {run: [...], timeout: 2m}; no shell is used (write [/bin/sh, -c, \"...\"] for one)"
            )
        }
    }

    /// One hook command: a list of words, or `{run: [...], timeout: DURATION}`.
    private func parseHook(_ node: ConfigNode) throws -> HookCommand {
        var vectorNode = node
        var timeout = HookCommand.defaultTimeout
        if case .mapping = node.node {
            let keys = try node.mapping(allowed: ["run", "timeout"])
            guard let run = keys["run"] else { throw node.error("missing key 'run' (the argument vector)") }
            vectorNode = run
            if let t = keys["timeout"] {
                guard let seconds = DurationText.seconds(try t.string()), seconds > 0, seconds <= 86_400 else {
                    throw t.error("expected a duration such as 30s or 2m (at most 24h)")
                }
                timeout = seconds
            }
        }
        guard case .sequence = vectorNode.node else {
            throw vectorNode.error("expected an argument vector such as [/usr/sbin/fwconsole, stop]")
        }
        let arguments = try vectorNode.list().map { try $0.string() }
        guard let program = arguments.first, !program.isEmpty else {
            throw vectorNode.error("the command must have at least a program")
        }
        guard program.hasPrefix("/") else {
            throw vectorNode.error("'\(program)' must be an absolute path (hooks run without a shell and without PATH)")
        }
        guard access(program, X_OK) == 0 else {
            throw vectorNode.error("cannot run \(program): \(String(cString: strerror(errno)))")
        }
        return HookCommand(arguments: arguments, timeout: timeout)
    }

    private func parseAPI(_ node: ConfigNode) throws -> APIConfiguration {
        let keys = try node.mapping(allowed: ["listen", "token"])
        guard let listenNode = keys["listen"] else { throw node.error("missing key 'listen' (e.g. 127.0.0.1:8640)") }
        let listen = try listenNode.nonEmptyString()
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            throw listenNode.error("expected HOST:PORT such as 127.0.0.1:8640")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host == "127.0.0.1" || host == "::1" || host == "localhost" else {
            throw listenNode.error("the API listens on the loopback interface only (127.0.0.1 or [::1]), not '\(host)'")
        }
        guard let tokenNode = keys["token"] else {
            throw node.error("missing key 'token' (a secret every request must present as 'Authorization: Bearer …')")
        }
        let token = try parseSecret(tokenNode)
        guard token.reveal().utf8.count >= 16 else {
            throw tokenNode.error("the API token is too short: use at least 16 characters (e.g. openssl rand -hex 32)")
        }
        return APIConfiguration(host: host == "localhost" ? "127.0.0.1" : host, port: port, token: token)
    }

    // MARK: Values

    /// `{secret_file: PATH}`, `{secret_env: NAME}`, or a plain string when the file is private.
    func parseSecret(_ node: ConfigNode) throws -> Secret {
        if case .scalar = node.node {
            guard !fileReadableByOthers else {
                throw node.error(
                    "a secret written in the configuration needs a file that others cannot read (chmod o-r \(file)); or use {secret_file: PATH} or {secret_env: NAME}")
            }
            return Secret(try node.string())
        }
        let keys = try node.mapping(allowed: ["secret_file", "secret_env"])
        if let f = keys["secret_file"] {
            let path = try f.nonEmptyString()
            return Secret(try SecretFile.read(path, describe: { f.error($0) }))
        }
        if let e = keys["secret_env"] {
            let name = try e.nonEmptyString()
            guard let value = environment[name], !value.isEmpty else {
                throw e.error("the environment variable \(name) is not set")
            }
            return Secret(value)
        }
        throw node.error("expected secret_file or secret_env")
    }

    /// A value that may be written as text or, like a secret, taken from a file or the environment
    /// (an access key id: not a secret, but often kept beside one).
    func parseIdentifier(_ node: ConfigNode) throws -> String {
        if case .scalar = node.node { return try node.nonEmptyString() }
        return try parseSecret(node).reveal().trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func checkName(_ name: String, _ node: ConfigNode?) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !name.isEmpty, name.allSatisfy(allowed.contains), name != ".", name != ".." else {
            let message = "'\(name)' may hold only letters, digits, '-', '_' and '.'"
            throw node?.error(message) ?? ConfigurationError(file: file, keyPath: "host", line: nil, message: message)
        }
    }

    private func describe(_ error: YamlError) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigurationError(
                file: file, keyPath: "", line: mark.line, message: "not valid YAML (column \(mark.column)): \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigurationError(
                file: file, keyPath: "", line: context.mark.line,
                message: "key given twice: \(duplicates.joined(separator: ", "))")
        default:
            return ConfigurationError(file: file, keyPath: "", line: nil, message: "not valid YAML: \(error)")
        }
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let name = String(decoding: bytes, as: UTF8.self).split(separator: ".").first.map(String.init) ?? "localhost"
        return name.isEmpty ? "localhost" : name
    }
}

/// Reads secrets from files, refusing files that others may read.
enum SecretFile {
    static func read(_ path: String, describe: (String) -> ConfigurationError) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { throw describe("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & 0o044) == 0 else {
            throw describe(
                "\(path) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); run chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw describe("cannot read \(path)")
        }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
