import ArgumentParser
import LifeboatAgent

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seed a demo PBX and run backup, verify --deep and restore against a local store.")

    @Option(help: "Folder for the demo (new or empty; default: a new folder under /tmp).")
    var dir: String?

    @Flag(name: .shortAndLong, help: "More log output on standard error.")
    var verbose: Int

    func run() throws {
        CommandRunner.runWithoutConfiguration(verbosity: verbose) { logger in
            try DemoCommand.run(directory: dir, logger: logger)
        }
    }
}
