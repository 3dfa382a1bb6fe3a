import ArgumentParser
import LifeboatAgent

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Configuration tools.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration: every error names the file, key and line.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
                try ConfigCheckCommand.run(agent: agent, json: json)
            }
        }
    }
}
