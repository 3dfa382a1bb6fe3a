import ArgumentParser
import LifeboatAgent

struct Firmware: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The signed firmware-update feed.", subcommands: [Check.self, Status.self, Install.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch and verify the feed now (exit 0 up to date or available, 1 refused, 75 unreachable).")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON: {status, checked, current, available, available_url, available_size, notes, reason, highest_seen}.")
        var json = false

        func run() throws {
            CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
                try FirmwareCommand.check(agent: agent, json: json)
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the running version, the highest version seen and the last check (contacts nothing).")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
                try FirmwareCommand.status(agent: agent, json: json)
            }
        }
    }
}

extension Firmware {
    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the feed and install the release it offers (mode: install): pre-upgrade backup, install, health check, rollback on failure.",
            discussion: "Without --ignore-window it waits in the foreground for the maintenance window.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Install now, outside the maintenance window.") var ignoreWindow = false
        @Flag(help: "Print JSON: {outcome, message}.") var json = false

        func run() throws {
            CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
                try FirmwareCommand.install(agent: agent, ignoreWindow: ignoreWindow, json: json)
            }
        }
    }
}
