#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import LifeboatCrypto
import LifeboatStores

/// `lifeboat keygen [--output FILE]`: a new age X25519 identity, in the format `age-keygen` writes.
public enum KeygenCommand {
    public static func run(output: String?) throws -> ExitStatus {
        let identity = try AgeX25519Identity.generate()
        let text = AgeKeyFile.render(identity, created: Date())
        if let output {
            guard !FileManager.default.fileExists(atPath: output) else {
                throw CommandError(.usage, "\(output) exists already; refusing to overwrite a key")
            }
            let sink = try FileSink(path: output, mode: 0o600, exclusive: true)
            try sink.write(text)
            try sink.sync()
            sink.close()
            Console.out("Public key: \(identity.recipient.encoded)")
            StandardError.write(
                "Wrote the identity to \(output). Keep a copy OFF this machine: without it no archive can be restored.\n")
        } else {
            Console.out(text, terminator: "")
            StandardError.write("Public key: \(identity.recipient.encoded)\n")
        }
        return .success
    }
}

extension Console {
    static func out(_ text: String, terminator: String) {
        print(text, terminator: terminator)
    }
}
