import ArgumentParser
import LifeboatAgent

struct Notify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record an event (e.g. from a PBX script); prints its id once it is on disk.",
        discussion: """
            Example: lifeboat notify --type pbx.web_user_locked_out --level alert --attr user=admin \
            --attr ip=203.0.113.9 --message "Web user admin locked out"
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The event type: lower-case dotted words (pbx.sip_trunk_registration_failed).") var type: String
    @Option(help: "information, warning or alert (default: the catalogue's level for the PBX's event types).")
    var level: String?
    @Option(name: .customLong("attr"), help: "An attribute KEY=VALUE (repeatable).") var attributes: [String] = []
    @Option(help: "A sentence for people.") var message: String?
    @Option(help: "Who raised it (default: cli).") var source = "cli"
    @Flag(help: "Print the recorded event as JSON.") var json = false

    func run() throws {
        CommandRunner.run(configOption: global.config, verbosity: global.verbose) { agent in
            try NotifyCommand.run(
                agent: agent, type: type, level: level, attributes: attributes, message: message, source: source,
                json: json)
        }
    }
}
