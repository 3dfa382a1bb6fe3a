import ArgumentParser
import LifeboatAgent

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an age X25519 identity (private key) and print its recipient (public key).")

    @Option(name: .shortAndLong, help: "Write the identity to this new file (mode 600) instead of standard output.")
    var output: String?

    func run() throws {
        CommandRunner.runWithoutConfiguration(verbosity: 0) { _ in try KeygenCommand.run(output: output) }
    }
}
