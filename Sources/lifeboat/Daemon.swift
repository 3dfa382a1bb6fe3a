import ArgumentParser
import LifeboatAgent

struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every job on its schedule until SIGTERM (systemd Type=notify).",
        discussion: """
            Runs missed while the daemon was down run once at start-up. SIGTERM stops waiting at once and gives a \
            running job shutdown_grace (default 60s) before cancelling it; SIGHUP reloads the configuration (a \
            configuration that does not load is refused and the running one stays). With 'api' configured, serves \
            /metrics and /v1/status on the loopback interface.
            """)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        await DaemonCommand.run(configOption: global.config, verbosity: global.verbose)
    }
}
