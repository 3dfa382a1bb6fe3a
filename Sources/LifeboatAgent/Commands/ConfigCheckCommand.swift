import Foundation
import LifeboatBackup
import LifeboatCore

/// `lifeboat config check`: loads and validates the configuration, and checks what can be checked
/// without running a backup (sources exist, the identity file is private and parses).
public enum ConfigCheckCommand {
    public static func run(agent: Agent, json: Bool) throws -> ExitStatus {
        let c = agent.configuration
        var warnings: [String] = []
        for source in c.sources {
            let paths: [String] =
                switch source.kind {
                case .sqlite(let path): [path]
                case .files(let paths, _, _): paths
                case .mariadb(let options): [options.defaultsFile, options.dumpCommand].compactMap { $0 }
                }
            for path in paths where !FileManager.default.fileExists(atPath: path) {
                warnings.append("source '\(source.name)': \(path) does not exist")
            }
        }
        if c.encryption?.identityFile != nil {
            _ = try agent.identities(identityFile: nil)
        }
        if json {
            Console.printJSON([
                "ok": warnings.isEmpty, "file": c.file, "host": c.host, "sources": c.sources.map(\.name),
                "stores": c.stores.map(\.name), "jobs": c.jobs.map(\.name), "warnings": warnings,
                "encryption": c.encryption == nil ? "none" : "age",
            ])
        } else {
            Console.out(
                "\(c.file): \(c.sources.count) source(s), \(c.stores.count) store(s), \(c.jobs.count) job(s); host \(c.host); encryption \(c.encryption == nil ? "NONE" : "age")")
            for w in warnings { Console.out("  warning: \(w)") }
            if warnings.isEmpty { Console.out("configuration OK") }
        }
        return warnings.isEmpty ? .success : .failure
    }
}
