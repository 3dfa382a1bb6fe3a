import ArgumentParser
import LifeboatAgent

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the event log (backups, skipped and stale jobs, configuration reloads, …).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only events since this long ago (24h, 7d) or this instant (ISO 8601).") var since: String?
    @Option(help: "Only events whose type matches this glob (backup.*).") var type: String?
    @Option(help: "Only events at this level or above: information, warning, alert.") var level: String?
    @Option(help: "Only the newest N events.") var limit: Int?
    @Flag(help: "Print JSON: an array of {id, time, type, level, source, attributes, message}.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try EventsCommand.run(agent: agent, since: since, type: type, level: level, limit: limit, json: json)
        }
    }
}
