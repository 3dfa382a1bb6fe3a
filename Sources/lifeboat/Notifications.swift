import ArgumentParser
import LifeboatAgent

struct Notifications: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the notification outbox: what was sent to whom, what waits, what failed and why.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this contact's notifications.") var contact: String?
    @Flag(help: "Only notifications not yet delivered.") var pending = false
    @Option(help: "At most N notifications, newest first (default 50).") var limit = 50
    @Flag(help: "Print JSON: an array of {id, contact, group, state, method, attempts, due, created, delivered, last_error, events}.")
    var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try NotificationsCommand.run(agent: agent, contact: contact, pending: pending, limit: limit, json: json)
        }
    }
}
